//! The articles' gRPC services, kept for their clients: `oxbridge.v1.Calculator`
//! and `greeter_service.GreeterService`, answered by the same core.

use oxbridge_core::export::{Arg, Value};
use oxbridge_core::{Complex, CALCULATOR};
use tonic::{Request, Response, Status};

use crate::codec::frames;
use crate::ground::error::CallError;
use crate::grpc::status::status;

/// Generated from `proto/oxbridge/v1/calculator.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("oxbridge.v1");
}

/// Generated from `proto/greeter_service.proto` (the article's, verbatim).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod greeter_service {
    tonic::include_proto!("greeter_service");
}

/// The encoded descriptors of both protos, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("oxbridge_descriptor");

/// The calculator service.
#[derive(Debug, Default, Clone, Copy)]
pub struct Calculator;

fn operands(req: &v1::BinaryRequest) -> Result<(Complex, Complex), Status> {
    let part = |z: Option<&v1::Complex>, name: &str| {
        z.map(|z| Complex::new(z.re.unwrap_or(0.0), z.im.unwrap_or(0.0)))
            .ok_or_else(|| status(&CallError::BadRequest(format!("missing operand '{name}'"))))
    };
    Ok((part(req.a.as_ref(), "a")?, part(req.b.as_ref(), "b")?))
}

/// One of the calculator's four operations, by name, on the old messages.
fn arithmetic(
    name: &str,
    req: &Request<v1::BinaryRequest>,
) -> Result<Response<v1::ComplexReply>, Status> {
    let (a, b) = operands(req.get_ref())?;
    let z = match CALCULATOR
        .lookup(name)
        .and_then(|f| f.invoke(&[Arg::Complex(a), Arg::Complex(b)]))
    {
        Ok(Value::Complex(z)) => z,
        Ok(other) => {
            let e = CallError::Internal(format!("{name} returned {other:?}"));
            return Err(status(&e));
        }
        Err(e) => return Err(status(&e.into())),
    };
    Ok(Response::new(v1::ComplexReply {
        result: Some(v1::Complex {
            re: Some(z.re),
            im: Some(z.im),
        }),
    }))
}

#[tonic::async_trait]
impl v1::calculator_server::Calculator for Calculator {
    async fn add(
        &self,
        req: Request<v1::BinaryRequest>,
    ) -> Result<Response<v1::ComplexReply>, Status> {
        arithmetic("add", &req)
    }
    async fn sub(
        &self,
        req: Request<v1::BinaryRequest>,
    ) -> Result<Response<v1::ComplexReply>, Status> {
        arithmetic("sub", &req)
    }
    async fn mul(
        &self,
        req: Request<v1::BinaryRequest>,
    ) -> Result<Response<v1::ComplexReply>, Status> {
        arithmetic("mul", &req)
    }
    async fn div(
        &self,
        req: Request<v1::BinaryRequest>,
    ) -> Result<Response<v1::ComplexReply>, Status> {
        arithmetic("div", &req)
    }
    async fn greet(
        &self,
        req: Request<v1::GreetRequest>,
    ) -> Result<Response<v1::GreetReply>, Status> {
        let req = req.into_inner();
        let message =
            oxbridge_core::greet_bytes(&req.greeting, &req.name).map_err(|e| status(&e.into()))?;
        Ok(Response::new(v1::GreetReply { message }))
    }
    async fn batch(
        &self,
        req: Request<v1::BatchRequest>,
    ) -> Result<Response<v1::BatchReply>, Status> {
        let req = req.into_inner();
        let received = req.a.len() + req.b.len();
        let compute = move || -> Result<Vec<u8>, CallError> {
            let op = u8::try_from(req.op).unwrap_or(u8::MAX);
            frames::Call::v1(op, &req.a, &req.b, req.b_scalar, req.offset)?.run()
        };
        let result = crate::ground::offload::run(received, compute)
            .await
            .map_err(|e| status(&e))?
            .map_err(|e| status(&e))?;
        crate::ground::metrics::batch_bytes("grpc", received, result.len());
        Ok(Response::new(v1::BatchReply { result }))
    }
    async fn version(
        &self,
        _req: Request<v1::VersionRequest>,
    ) -> Result<Response<v1::VersionReply>, Status> {
        Ok(Response::new(v1::VersionReply {
            version: oxbridge_core::VERSION.to_owned(),
        }))
    }
}

/// The article's greeter.
#[derive(Debug, Default, Clone, Copy)]
pub struct Greeter;

#[tonic::async_trait]
impl greeter_service::greeter_service_server::GreeterService for Greeter {
    async fn greet(
        &self,
        req: Request<greeter_service::GreetRequest>,
    ) -> Result<Response<greeter_service::GreetReply>, Status> {
        let req = req.into_inner();
        Ok(Response::new(greeter_service::GreetReply {
            message: oxbridge_core::greet(&req.greeting, &req.name),
        }))
    }
}
