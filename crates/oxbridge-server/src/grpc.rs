//! The gRPC bridge (tonic): `oxbridge.v1.Calculator`, the article's
//! `greeter_service.GreeterService`, health and reflection.

use oxbridge_core::export::{Arg, Value};
use oxbridge_core::{Complex, CALCULATOR};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use crate::config::{Access, Limits};
use crate::error::CallError;
use crate::frames;

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

/// The method a client calls when it connects to read the served catalogue.
pub const CATALOGUE_PATH: &str = "/oxbridge.Catalogue/Get";

/// Metadata key that carries the exact error kind next to the status code.
pub const ERROR_KIND_KEY: &str = "oxbridge-error-kind";

/// The gRPC face of [`CallError`]: a status code, the message, and the kind.
/// It does not log: [`observe`] does, once, from the response.
#[must_use]
pub fn status(e: &CallError) -> Status {
    let kind = e.kind();
    let code = tonic::Code::from_i32(kind.grpc_code());
    let mut status = Status::new(code, e.to_string());
    status
        .metadata_mut()
        .insert(ERROR_KIND_KEY, MetadataValue::from_static(kind.name()));
    status
}

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
        let result = crate::offload::run(received, compute)
            .await
            .map_err(|e| status(&e))?
            .map_err(|e| status(&e))?;
        crate::metrics::batch_bytes("grpc", received, result.len());
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

/// Once the server drains: every service `NOT_SERVING`, for balancers and
/// clients checking health, then, when the connections close, no status at
/// all, which ends the health watches that would otherwise hold the drain.
async fn report_draining(
    mut reporter: tonic_health::server::HealthReporter,
    services: Vec<String>,
    ready: crate::readiness::Readiness,
) {
    ready.draining().await;
    for service in &services {
        reporter
            .set_service_status(service, tonic_health::ServingStatus::NotServing)
            .await;
    }
    ready.stopping().await;
    for service in &services {
        reporter.clear_service_status(service).await;
    }
}

/// All gRPC services on one router: calculator, greeter, health, reflection.
///
/// # Errors
/// When the reflection descriptors cannot be decoded (a build fault).
pub async fn routes(
    limits: &Limits,
    access: &Access,
    ready: &crate::readiness::Readiness,
) -> Result<tonic::service::Routes, crate::StartError> {
    // Shared, not copied, by every call.
    let access_for_calls = std::sync::Arc::new(access.clone());
    let access = access.clone();
    // Health and reflection stay open (load balancers probe them); the
    // calculator and the greeter need the token when one is set.
    let check = move |request: Request<()>| {
        let header = request
            .metadata()
            .get("authorization")
            .map(tonic::metadata::MetadataValue::as_bytes);
        if access.authorized(header) {
            Ok(request)
        } else {
            Err(status(&CallError::PermissionDenied(
                "missing or wrong bearer token".into(),
            )))
        }
    };
    let libraries = crate::libraries();
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let mut reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    let mut descriptors = Vec::new();
    for library in libraries {
        descriptors.push(crate::grpc_functions::descriptor_set(library)?);
    }
    for descriptor in &descriptors {
        reflection = reflection.register_encoded_file_descriptor_set(descriptor);
    }
    let max = limits.max_request_bytes;
    let mut routes = tonic::service::Routes::default();
    let mut health_services = Vec::new();
    // The articles' services speak the calculator's functions only.
    if libraries.iter().any(|l| std::ptr::eq(*l, &CALCULATOR)) {
        health_reporter
            .set_serving::<v1::calculator_server::CalculatorServer<Calculator>>()
            .await;
        health_reporter
            .set_serving::<greeter_service::greeter_service_server::GreeterServiceServer<Greeter>>()
            .await;
        health_services.extend([
            v1::calculator_server::SERVICE_NAME.to_owned(),
            greeter_service::greeter_service_server::SERVICE_NAME.to_owned(),
        ]);
        reflection = reflection.register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET);
        let calculator = v1::calculator_server::CalculatorServer::new(Calculator)
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        let calculator =
            tonic::service::interceptor::InterceptedService::new(calculator, check.clone());
        let greeter = greeter_service::greeter_service_server::GreeterServiceServer::new(Greeter)
            .max_decoding_message_size(max);
        let greeter = tonic::service::interceptor::InterceptedService::new(greeter, check);
        routes = routes.add_service(calculator).add_service(greeter);
    }
    let reflection = reflection.build_v1().map_err(|e| {
        crate::StartError::Io(
            format!("gRPC reflection: {e}"),
            std::io::ErrorKind::InvalidData,
        )
    })?;
    let routes = routes.add_service(health_service).add_service(reflection);
    // Each library's functions are a service of their own to check, beside
    // the whole server ("").
    health_services.push(String::new());
    for library in libraries {
        let functions = format!("{}.Functions", crate::grpc_functions::package(library));
        health_reporter
            .set_service_status(&functions, tonic_health::ServingStatus::Serving)
            .await;
        health_services.push(functions);
    }
    tokio::spawn(report_draining(
        health_reporter,
        health_services,
        ready.clone(),
    ));
    // Every exported function of every library: one route per method,
    // derived from its definition.
    let methods = libraries.iter().flat_map(|library| {
        let service = format!("/{}.Functions", crate::grpc_functions::package(library));
        library.functions.iter().flat_map(move |f| {
            let many = f.many.map(|_| {
                (
                    format!("{service}/{}", crate::grpc_many::many_method(f)),
                    f,
                    true,
                )
            });
            let one = (
                format!("{service}/{}", crate::grpc_functions::method_name(f.name)),
                f,
                false,
            );
            std::iter::once(one).chain(many)
        })
    });
    let router = methods.fold(routes.into_axum_router(), |router, (path, f, many)| {
        let access = access_for_calls.clone();
        router.route(
            &path,
            axum::routing::post(move |request: axum::extract::Request| {
                let access = access.clone();
                async move {
                    let header = request
                        .headers()
                        .get("authorization")
                        .map(axum::http::HeaderValue::as_bytes);
                    if !access.authorized(header) {
                        let denied = status(&CallError::PermissionDenied(
                            "missing or wrong bearer token".into(),
                        ));
                        return denied.into_http::<axum::body::Body>();
                    }
                    if many {
                        crate::grpc_many::serve(f, max, request).await
                    } else {
                        crate::grpc_functions::serve(f, max, request).await
                    }
                }
            }),
        )
    });
    // What a client checks its catalogue against when it connects: one
    // message whose field 1 is the catalogue as JSON (as `/catalogue`).
    let router = router.route(
        CATALOGUE_PATH,
        axum::routing::post(|| async {
            let (_, reply) = crate::grpc_message::reply(|buf| {
                use bytes::BufMut as _;
                let text = crate::catalogue::catalogue().as_bytes();
                prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, buf);
                prost::encoding::encode_varint(text.len() as u64, buf);
                buf.put_slice(text);
            });
            reply.into_response()
        }),
    );
    let router = router.layer(crate::grpc_observe::ObserveLayer);
    Ok(tonic::service::Routes::from(router))
}
