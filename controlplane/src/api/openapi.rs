//! The admin API's OpenAPI 3.1 document, `GET /admin/v1/openapi.json` (no token needed: it
//! describes the API, it holds nothing of anyone's). Every operation comes from its handler's
//! `#[utoipa::path]`, every schema from the Rust type the handler reads or writes, so the
//! document cannot describe a body the code does not use. The error answers every operation can
//! give are added here from the operation's shape (secured: 401; a body or parameters: 400; a
//! path parameter: 404), once, instead of on each handler.

use std::sync::OnceLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, RefOr};
use utoipa::{OpenApi, ToSchema};

/// Every error: a stable `type` to branch on and a sentence for people.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `invalid_request`, `unauthorized`, `forbidden`, `not_found`, `conflict` or
    /// `internal_error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Warden control plane",
        description = "The admin API (`Authorization: Bearer <data_dir/admin-token>`), the data \
            planes' link (`/dataplane/v1/*`, with the enrolment token or a data plane's own \
            credential) and the health endpoints. JSON bodies are checked strictly: unknown \
            fields are refused with 400.",
        license(name = "Apache-2.0")
    ),
    paths(
        super::tenants::create_tenant,
        super::tenants::list_tenants,
        super::tenants::delete_tenant,
        super::tenants::put_plan,
        super::tenants::create_project,
        super::tenants::list_projects,
        super::tenants::delete_project,
        super::models::list_models,
        super::models::put_model,
        super::models::delete_model,
        super::keys::create_api_key,
        super::keys::list_api_keys,
        super::keys::delete_api_key,
        super::keys::add_provider_key,
        super::keys::list_provider_keys,
        super::keys::delete_provider_key,
        super::keys::put_key_priority,
        super::keys::put_pooled_priority,
        super::keys::add_pooled_key,
        super::keys::list_pooled_keys,
        super::keys::delete_pooled_key,
        super::rotation::rotate_master_key,
        super::policy::put_guardrails,
        super::policy::get_guardrails,
        super::policy::put_routing,
        super::policy::get_routing,
        super::policy::put_limits,
        super::policy::get_limits,
        super::policy::put_cache,
        super::policy::get_cache,
        super::policy::purge_cache,
        super::usage::usage,
        super::requests::requests,
        super::prices::list_prices,
        super::prices::put_price,
        super::usage::statement,
        super::usage::ingest,
        super::planes::list_dataplanes,
        super::planes::dataplane_anchors,
        super::planes::revoke_dataplane,
        super::planes::register,
        super::ops::snapshot_version,
        super::ops::healthz,
        super::ops::readyz,
        super::ops::metrics,
        document,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Shape),
    tags(
        (name = "tenants", description = "Tenants, their projects and their statements."),
        (name = "keys", description = "Warden API keys, provider keys (a project's own and the \
            operator's pooled keys) and the master key."),
        (name = "policy", description = "A project's guardrails, key routing, limits and cache."),
        (name = "catalog", description = "Model aliases and prices."),
        (name = "usage", description = "Usage, the request log."),
        (name = "dataplanes", description = "Data planes: registration, usage batches, snapshot \
            delivery and audit-chain anchors."),
        (name = "health", description = "Liveness, readiness, metrics and this document."),
    )
)]
struct Doc;

/// Security schemes and the error answers each operation's shape implies.
struct Shape;

impl utoipa::Modify for Shape {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, what) in [
            ("admin", "The admin token (`data_dir/admin-token`)."),
            (
                "dataplane",
                "The data-plane enrolment token, or a data plane's own credential.",
            ),
        ] {
            let scheme = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(what))
                .build();
            components.add_security_scheme(name, SecurityScheme::Http(scheme));
        }
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_errors(op);
            }
        }
    }
}

fn add_errors(op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_path = params.iter().any(|p| {
        matches!(
            p,
            RefOr::T(p) if matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path)
        )
    });
    let takes_input = op.request_body.is_some() || !params.is_empty();
    let mut add = |status: &str, why: &str| {
        if op.responses.responses.contains_key(status) {
            return;
        }
        let response = ResponseBuilder::new()
            .description(why)
            .content("application/json", Content::new(Some(error_ref())))
            .build();
        op.responses
            .responses
            .insert(status.to_owned(), RefOr::T(response));
    };
    if takes_input {
        add(
            "400",
            "The body, a parameter or a value is not valid: the message says which.",
        );
    }
    if secured {
        add("401", "Missing or wrong bearer token.");
    }
    if has_path {
        add("404", "No such object.");
    }
    if secured {
        add(
            "500",
            "The store failed; the detail is logged, never answered.",
        );
    }
}

fn error_ref() -> RefOr<utoipa::openapi::schema::Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody"))
}

/// The document, built once.
fn bytes() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_vec_pretty(&Doc::openapi()).unwrap_or_default())
}

/// This document.
#[utoipa::path(
    get,
    path = "/admin/v1/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.",
        content_type = "application/json", body = Object)),
)]
pub async fn document() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secured_operation_documents_its_errors() {
        let doc: serde_json::Value = serde_json::from_slice(bytes()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 30, "{} paths", paths.len());
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                if path.starts_with("/admin/v1/") && path != "/admin/v1/openapi.json" {
                    assert_eq!(
                        op["security"][0]["admin"],
                        serde_json::json!([]),
                        "{method} {path}"
                    );
                    assert!(responses.contains_key("401"), "{method} {path}");
                    assert!(responses.contains_key("500"), "{method} {path}");
                }
                if path.contains('{') {
                    assert!(responses.contains_key("404"), "{method} {path}");
                }
            }
        }
    }
}
