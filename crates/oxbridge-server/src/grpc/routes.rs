//! Every gRPC route of a server: the articles' services, each library's
//! functions and `_many` forms, health, reflection and the catalogue, the
//! bearer token checked where it applies, every call observed.

use oxbridge_core::CALCULATOR;
use tonic::Request;

use crate::ground::auth;
use crate::ground::config::{Access, Limits};
use crate::grpc::article::{greeter_service, v1, Calculator, Greeter, FILE_DESCRIPTOR_SET};
use crate::grpc::names::CATALOGUE_PATH;
use crate::grpc::status::status;

/// Once the server drains: every service `NOT_SERVING`, for balancers and
/// clients checking health, then, when the connections close, no status at
/// all, which ends the health watches that would otherwise hold the drain.
async fn report_draining(
    mut reporter: tonic_health::server::HealthReporter,
    services: Vec<String>,
    ready: crate::ground::readiness::Readiness,
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
    ready: &crate::ground::readiness::Readiness,
) -> Result<tonic::service::Routes, crate::ground::error::StartError> {
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
        auth::check(&access, header).map_err(|e| status(&e))?;
        Ok(request)
    };
    let libraries = crate::ground::library::libraries();
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let mut reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    let mut descriptors = Vec::new();
    for library in libraries {
        descriptors.push(crate::grpc::functions::descriptor_set(library)?);
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
        crate::ground::error::StartError::Io(
            format!("gRPC reflection: {e}"),
            std::io::ErrorKind::InvalidData,
        )
    })?;
    let routes = routes.add_service(health_service).add_service(reflection);
    // Each library's functions are a service of their own to check, beside
    // the whole server ("").
    health_services.push(String::new());
    for library in libraries {
        let functions = format!("{}.Functions", crate::grpc::names::package(library));
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
        let service = format!("/{}.Functions", crate::grpc::names::package(library));
        library.functions.iter().flat_map(move |f| {
            let many = f.many.map(|_| {
                (
                    format!("{service}/{}", crate::grpc::names::many_method(f)),
                    f,
                    true,
                )
            });
            let one = (
                format!("{service}/{}", crate::grpc::names::method_name(f.name)),
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
                    if let Err(e) = auth::check(&access, header) {
                        return status(&e).into_http::<axum::body::Body>();
                    }
                    if many {
                        crate::grpc::many::serve(f, max, request).await
                    } else {
                        crate::grpc::functions::serve(f, max, request).await
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
            let (_, reply) = crate::grpc::message::reply(|buf| {
                use bytes::BufMut as _;
                let text = crate::ground::catalogue::catalogue().as_bytes();
                prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, buf);
                prost::encoding::encode_varint(text.len() as u64, buf);
                buf.put_slice(text);
            });
            reply.into_response()
        }),
    );
    let router = router.layer(crate::grpc::observe::ObserveLayer);
    Ok(tonic::service::Routes::from(router))
}
