//! The OpenAPI entry of each exported function, derived from its definition:
//! request and reply schemas from its parameter and result types.

use oxbridge_core::export::{Function, Type};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type as Json,
};
use utoipa::openapi::{ContentBuilder, KnownFormat, Ref, RefOr, Required, ResponseBuilder};

fn typed(json: Json) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::new(json))
}

fn float() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(typed(Json::Number).format(Some(SchemaFormat::KnownFormat(KnownFormat::Double))))
        .item(typed(Json::String).enum_values(Some([
            "inf",
            "+inf",
            "Infinity",
            "-inf",
            "-Infinity",
            "nan",
            "NaN",
        ])))
        .description(Some(
            "A finite number as a JSON number; a non-finite one as a string",
        ))
        .into()
}

/// The JSON schema of a value of `ty` (see `json_call`).
#[must_use]
pub fn schema(ty: Type) -> RefOr<Schema> {
    let complex = || RefOr::Ref(Ref::from_schema_name("WireComplex"));
    let integer = || {
        typed(Json::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .into()
    };
    match ty {
        Type::Bool => typed(Json::Boolean).into(),
        Type::I64 => integer(),
        Type::F64 => float(),
        Type::Complex => complex(),
        Type::Str => typed(Json::String).into(),
        Type::Bytes => typed(Json::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Byte)))
            .description(Some("base64 (RFC 4648, padded)"))
            .into(),
        Type::F64Array => ArrayBuilder::new().items(float()).into(),
        Type::I64Array => ArrayBuilder::new().items(integer()).into(),
        Type::ComplexArray => ArrayBuilder::new().items(complex()).into(),
    }
}

/// `POST /<name>`: its request object, its reply object and its errors.
#[must_use]
pub fn function_path(f: &Function) -> PathItem {
    let args = f.params.iter().fold(typed(Json::Object), |object, p| {
        object.property(p.name, schema(p.ty)).required(p.name)
    });
    let reply = typed(Json::Object)
        .property(f.result_field, schema(f.returns))
        .required(f.result_field);
    let problem = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    let operation = OperationBuilder::new()
        .operation_id(Some(f.name))
        .summary(Some(f.summary()))
        .description(Some(f.doc_text()))
        .request_body(Some(
            RequestBodyBuilder::new()
                .content("application/json", ContentBuilder::new().schema(Some(args)).build())
                .required(Some(Required::True))
                .build(),
        ))
        .response(
            "200",
            ResponseBuilder::new()
                .description(f.summary())
                .content("application/json", ContentBuilder::new().schema(Some(reply)).build()),
        )
        .response(
            "4XX",
            ResponseBuilder::new()
                .description("A refused or unreadable request, or a body not declared application/json (415)")
                .content("application/problem+json", problem),
        );
    PathItem::new(HttpMethod::Post, operation)
}
