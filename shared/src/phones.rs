//! Phone hint regions, as both planes check them: a project's `phone_regions` name the numbering
//! plans (libphonenumber's metadata, the `phonenumber` crate) its national phone numbers are
//! checked against. The control plane refuses a list the data planes could not use, so a
//! snapshot never carries one.

use phonenumber::metadata::DATABASE;

/// The most regions one project may name: each is checked in turn for every national number.
pub const MAX_REGIONS: usize = 32;

/// Each region an upper-case ISO 3166 code with a numbering plan, none twice, at most
/// [`MAX_REGIONS`].
pub fn check_regions(regions: &[String]) -> Result<(), String> {
    if regions.len() > MAX_REGIONS {
        return Err(format!("{} regions; at most {MAX_REGIONS}", regions.len()));
    }
    for (i, r) in regions.iter().enumerate() {
        let code = r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase());
        if !code || DATABASE.by_id(r).is_none() {
            return Err(format!(
                "{r:?} is not a region with a numbering plan (an upper-case ISO 3166 code such as \"KE\")"
            ));
        }
        if regions[..i].contains(r) {
            return Err(format!("{r:?} is named twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_upper_case_regions_pass_and_the_rest_are_named() {
        let list = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_regions(&list(&["KE", "NG", "GB"])).is_ok());
        assert!(check_regions(&[]).is_ok());
        for (bad, says) in [
            (&["ke"][..], "\"ke\""),
            (&["XX"], "\"XX\""),
            (&["KEN"], "\"KEN\""),
            (&["KE", "KE"], "named twice"),
        ] {
            let err = check_regions(&list(bad)).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        let many: Vec<String> = ["GB"; 33].iter().map(|s| s.to_string()).collect();
        assert!(check_regions(&many).unwrap_err().contains("at most 32"));
    }
}
