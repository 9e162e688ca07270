//! A project row as a snapshot's project: its policy columns (JSON text) parsed and checked
//! again (a store edited by hand must not reach the data planes). Each distinct text is parsed
//! once per read (`Policies`): at 100 000 projects most share a handful of policies, and a first
//! read spent most of its time on the projects parsing the same text again.

use std::collections::HashMap;

use warden_shared::snapshot::{CachePolicy, GuardrailPolicy, Limits, Project, Routing};

use crate::store::ProjectRow;

/// A guardrail column parsed: the policy, the operator's patterns, the phone settings.
type Guardrails = (GuardrailPolicy, super::ProjectDetectors);

/// Parsed policy columns by their stored text, for one read of the store.
#[derive(Default)]
pub(super) struct Policies {
    guardrails: HashMap<String, Guardrails>,
    routing: HashMap<String, Routing>,
    limits: HashMap<String, Limits>,
    cache: HashMap<String, CachePolicy>,
}

impl Policies {
    /// The snapshot's project for row `p` (its provider keys are added by the caller).
    pub(super) fn project(&mut self, p: ProjectRow) -> anyhow::Result<Project> {
        let (guardrails, detectors) = once(&mut self.guardrails, &p.guardrails, |text| {
            Ok((
                super::parse_guardrails(text)?,
                super::parse_custom_patterns(text)?,
            ))
        })?;
        Ok(Project {
            provider_keys: Vec::new(),
            environment: super::parse_environment(&p.environment)?,
            guardrails,
            custom_patterns: detectors.custom_patterns,
            phone_regions: detectors.phone_regions,
            phone_standalone: detectors.phone_standalone,
            routing: once(&mut self.routing, &p.routing, super::parse_routing)?,
            limits: once(&mut self.limits, &p.limits, |text| {
                let body: crate::api::policy::LimitsBody = serde_json::from_str(text)?;
                body.limits().map_err(anyhow::Error::msg)
            })?,
            cache: once(&mut self.cache, &p.cache, |text| {
                serde_json::from_str::<warden_shared::standalone::CacheSection>(text)?
                    .policy()
                    .map_err(anyhow::Error::msg)
            })?,
            id: p.id,
            tenant: p.tenant_id,
        })
    }
}

/// `text` parsed by `parse`, or the copy kept from parsing the same text before.
fn once<T: Clone>(
    kept: &mut HashMap<String, T>,
    text: &str,
    parse: impl FnOnce(&str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    if let Some(parsed) = kept.get(text) {
        return Ok(parsed.clone());
    }
    let parsed = parse(text)?;
    kept.insert(text.to_owned(), parsed.clone());
    Ok(parsed)
}
