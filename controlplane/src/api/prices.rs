//! The price table: dollars per million tokens per provider and model, for pooled keys' cost and
//! the data planes' spend limits.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warden_shared::catalog::Provider;
use warden_shared::money::Rate;

use super::tenants::ProviderName;
use super::{Admin, Body};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::store::usage::Price;

#[derive(Serialize, ToSchema)]
pub struct Prices {
    pub prices: Vec<Price>,
}

#[utoipa::path(get, path = "/admin/v1/prices", tag = "catalog", security(("admin" = [])),
    responses((status = 200, body = Prices, description = "The price table.")))]
pub async fn list_prices(_: Admin, State(app): State<Arc<App>>) -> ApiResult<Json<Prices>> {
    Ok(Json(Prices {
        prices: app.store.prices().await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    /// Dollars per million input tokens: a decimal string, at most 6 places.
    #[schema(pattern = r"^[0-9]+(\.[0-9]{1,6})?$")]
    input_per_mtok: String,
    /// Dollars per million output tokens.
    #[schema(pattern = r"^[0-9]+(\.[0-9]{1,6})?$")]
    output_per_mtok: String,
}

#[utoipa::path(put, path = "/admin/v1/prices/{provider}/{model}", tag = "catalog",
    security(("admin" = [])),
    params(("provider" = ProviderName, Path), ("model" = String, Path, description = "The upstream model name.")),
    request_body = PriceBody,
    responses((status = 200, body = Price, description = "The price as stored.")))]
pub async fn put_price(
    _: Admin,
    State(app): State<Arc<App>>,
    Path((provider, model)): Path<(String, String)>,
    Body(b): Body<PriceBody>,
) -> ApiResult<Json<Price>> {
    Ok(Json(
        save_price(&app, provider, model, b.input_per_mtok, b.output_per_mtok).await?,
    ))
}

/// Check and store a price, and publish it: the data planes hold the price table for their
/// spend limits.
pub async fn save_price(
    app: &App,
    provider: String,
    model: String,
    input_per_mtok: String,
    output_per_mtok: String,
) -> ApiResult<Price> {
    Provider::from_name(&provider).ok_or_else(|| super::tenants::unknown_provider(&provider))?;
    super::check_name("model", &model)?;
    for v in [&input_per_mtok, &output_per_mtok] {
        if Rate::per_mtok(v).is_none() {
            return Err(ApiError::BadRequest(format!(
                "{v:?}: dollars per million tokens, a decimal with at most 6 places"
            )));
        }
    }
    let price = Price {
        provider,
        model,
        input_per_mtok,
        output_per_mtok,
    };
    app.store.put_price(&price).await?;
    app.publish().await?;
    Ok(price)
}
