//! Signing in to the dashboard, as a browser does it (cookies, forms, the CSRF token the page
//! carries): the first operator's password file, the sign-in form and its double-submit token,
//! session cookies that are HttpOnly and SameSite, a session the store keeps only as a hash,
//! CSRF refusals, invitations by role, a tenant's user who sees only its own tenant (another
//! tenant's objects answer 404, as missing ones do), sign-out, session expiry, the sign-in rate
//! limit, and `warden-controlplane user add`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::json;
use warden_tests::browser::{hidden, initial_password, Browser};
use warden_tests::http::Response;
use warden_tests::{eventually, ControlPlane, Mock};

fn set_cookie<'a>(r: &'a Response, name: &str) -> &'a str {
    r.headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with(&format!("{name}=")))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} cookie set: {:?}", r.headers))
}

/// A tenant made through the admin API, with one project: (tenant, project).
fn tenant(cp: &ControlPlane, name: &str) -> (String, String) {
    let t = cp.admin(
        "POST",
        "/admin/v1/tenants",
        Some(&json!({"name": name, "plan": "team"})),
    );
    assert_eq!(t.status, 201, "{}", t.text());
    let tenant = t.json()["id"].as_str().unwrap().to_owned();
    let p = cp.admin(
        "POST",
        &format!("/admin/v1/tenants/{tenant}/projects"),
        Some(&json!({"name": format!("{name}-app"), "environment": "production"})),
    );
    assert_eq!(p.status, 201, "{}", p.text());
    (tenant, p.json()["id"].as_str().unwrap().to_owned())
}

#[test]
fn operators_and_tenant_users_sign_in_and_see_only_what_is_theirs() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);

    // The first operator's password, once, readable by the owner alone.
    let file = cp.data_dir().join("initial-admin-password");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let password = initial_password(&cp);
    assert_eq!(password.len(), 20);

    // `/` leads to a sign-in page with a password field.
    let mut browser = Browser::new(&cp);
    let root = browser.get("/");
    assert_eq!(root.status, 303);
    assert_eq!(root.header("location"), Some("/dashboard/"));
    let home = browser.get("/dashboard/");
    assert_eq!(
        (home.status, home.header("location")),
        (303, Some("/dashboard/login"))
    );
    let page = browser.get("/dashboard/login");
    assert!(page.text().contains("type=\"password\""), "{}", page.text());
    assert!(page
        .header("content-security-policy")
        .is_some_and(|c| c.contains("default-src 'self'")));
    assert!(set_cookie(&page, "warden_login").contains("HttpOnly; SameSite=Strict"));

    // A wrong password; a form without its token (another site posting it); the right one.
    let csrf = hidden(&page.text(), "csrf");
    let wrong = browser.form(
        "/dashboard/login",
        &[("name", "admin"), ("password", "guess"), ("csrf", &csrf)],
    );
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.text().contains("Wrong name or password"),
        "{}",
        wrong.text()
    );
    let mut stranger = Browser::new(&cp);
    let forged = stranger.form(
        "/dashboard/login",
        &[("name", "admin"), ("password", &password), ("csrf", "x")],
    );
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert!(!stranger.cookies.contains_key("warden_session"));
    let signed = browser.sign_in("admin", &password);
    assert_eq!(
        (signed.status, signed.header("location")),
        (303, Some("/dashboard/"))
    );
    let session = set_cookie(&signed, "warden_session");
    assert!(
        session.contains("HttpOnly; SameSite=Strict; Path=/"),
        "{session}"
    );
    let cookie = browser.cookies["warden_session"].clone();
    assert_eq!(cookie.len(), 64);

    let me = browser.get("/dashboard/api/me");
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(
        me.json(),
        json!({"name": "admin", "role": "operator", "tenant": null})
    );
    let shell = browser.get("/dashboard/");
    assert!(shell.text().contains("admin"));
    assert_eq!(shell.header("cache-control"), Some("no-store"));
    // Neither the session cookie nor the password is kept in the store as they are.
    if cp.store_args()[0] == "--sqlite" {
        let db = std::fs::read(cp.data_dir().join("warden.db")).unwrap();
        let wal = std::fs::read(cp.data_dir().join("warden.db-wal")).unwrap_or_default();
        for bytes in [&db, &wal] {
            for secret in [&cookie, &password] {
                assert!(warden_tests::http::find(bytes, secret.as_bytes()).is_none());
            }
        }
    }
    // A session is not the admin token.
    assert_eq!(browser.get("/admin/v1/tenants").status, 401);

    // Invitations: a change from the page needs the page's CSRF token.
    let (acme, acme_project) = tenant(&cp, "acme");
    let (globex, _) = tenant(&cp, "globex");
    let invite = json!({"name": "ana", "tenant": acme, "role": "owner"});
    let refused = browser.api("POST", "/dashboard/api/users", &invite, None);
    assert_eq!(refused.status, 403, "{}", refused.text());
    let refused = browser.api(
        "POST",
        "/dashboard/api/users",
        &invite,
        Some("0".repeat(64).as_str()),
    );
    assert_eq!(refused.status, 403);
    let csrf = browser.page_csrf();
    let made = browser.api("POST", "/dashboard/api/users", &invite, Some(&csrf));
    assert_eq!(made.status, 201, "{}", made.text());
    let ana_password = made.json()["password"].as_str().unwrap().to_owned();
    let again = browser.api("POST", "/dashboard/api/users", &invite, Some(&csrf));
    assert_eq!(again.status, 409, "{}", again.text());
    let bad_role = json!({"name": "bo", "tenant": acme, "role": "operator"});
    assert_eq!(
        browser
            .api("POST", "/dashboard/api/users", &bad_role, Some(&csrf))
            .status,
        400
    );

    // The tenant's owner sees its own tenant, and another tenant as missing.
    let mut ana = Browser::new(&cp);
    assert_eq!(ana.sign_in("ana", &ana_password).status, 303);
    assert_eq!(
        ana.get("/dashboard/api/me").json(),
        json!({"name": "ana", "role": "owner", "tenant": acme})
    );
    let own = ana.get(&format!("/dashboard/api/tenants/{acme}/projects"));
    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(own.json()["projects"][0]["id"], json!(acme_project));
    let other = ana.get(&format!("/dashboard/api/tenants/{globex}/projects"));
    assert_eq!(other.status, 404, "{}", other.text());
    assert_eq!(
        ana.get("/dashboard/api/tenants/ten_missing/projects")
            .status,
        404
    );
    assert_eq!(
        browser
            .get(&format!("/dashboard/api/tenants/{globex}/projects"))
            .status,
        200
    );
    // An owner invites to its own tenant only; a member invites no one; no tenant user makes
    // an operator.
    let ana_csrf = ana.page_csrf();
    let member = ana.api(
        "POST",
        "/dashboard/api/users",
        &json!({"name": "cy", "tenant": acme, "role": "member"}),
        Some(&ana_csrf),
    );
    assert_eq!(member.status, 201, "{}", member.text());
    for body in [
        json!({"name": "dee", "tenant": globex, "role": "member"}),
        json!({"name": "eve", "role": "operator"}),
    ] {
        assert_eq!(
            ana.api("POST", "/dashboard/api/users", &body, Some(&ana_csrf))
                .status,
            403
        );
    }
    let listed = ana.get(&format!("/dashboard/api/tenants/{acme}/users"));
    assert_eq!(listed.status, 200, "{}", listed.text());
    let names: Vec<String> = listed.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["ana", "cy"]);
    assert!(!listed.text().contains("argon2"), "no password hashes");
    assert_eq!(
        ana.get(&format!("/dashboard/api/tenants/{globex}/users"))
            .status,
        404
    );
    assert_eq!(ana.get("/dashboard/api/operators").status, 403);
    assert_eq!(
        browser.get("/dashboard/api/operators").json()["users"][0]["name"],
        json!("admin")
    );
    let mut cy = Browser::new(&cp);
    assert_eq!(
        cy.sign_in("cy", member.json()["password"].as_str().unwrap())
            .status,
        303
    );
    let cy_csrf = cy.page_csrf();
    let by_member = cy.api(
        "POST",
        "/dashboard/api/users",
        &json!({"name": "fay", "tenant": acme, "role": "member"}),
        Some(&cy_csrf),
    );
    assert_eq!(by_member.status, 403);

    // The People page: an operator invites from the form and hands over the password shown
    // once; a member sees the list without the form and cannot post it; another tenant's page
    // answers 404.
    let people = format!("/dashboard/tenants/{acme}/users");
    let page = browser.get(&people);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Invite someone"));
    let invited = browser.form(
        &people,
        &[("csrf", &csrf), ("name", "dora"), ("role", "member")],
    );
    assert_eq!(invited.status, 201, "{}", invited.text());
    let text = invited.text();
    let marker = "with the password ";
    let at = text.find(marker).expect("the password is shown") + marker.len();
    let dora_password: String = text[at..].chars().take(20).collect();
    let mut dora = Browser::new(&cp);
    assert_eq!(dora.sign_in("dora", &dora_password).status, 303);
    assert_eq!(dora.get("/dashboard/api/me").json()["tenant"], json!(acme));
    let seen = cy.get(&people).text();
    assert!(seen.contains("dora") && seen.contains("ana") && !seen.contains("Invite someone"));
    let cy_csrf = cy.page_csrf();
    let by_member = cy.form(
        &people,
        &[("csrf", &cy_csrf), ("name", "eli"), ("role", "member")],
    );
    assert_eq!(by_member.status, 403);
    assert_eq!(
        cy.get(&format!("/dashboard/tenants/{globex}/users")).status,
        404
    );
    let bad = browser.form(
        &people,
        &[("csrf", &csrf), ("name", "fin"), ("role", "operator")],
    );
    assert_eq!(bad.status, 400);

    // Signing out needs the token too, and ends the session for good.
    assert_eq!(
        browser
            .form("/dashboard/logout", &[("csrf", "nope")])
            .status,
        403
    );
    let out = browser.form("/dashboard/logout", &[("csrf", &csrf)]);
    assert_eq!(
        (out.status, out.header("location")),
        (303, Some("/dashboard/login"))
    );
    assert!(!browser.cookies.contains_key("warden_session"));
    browser.cookies.insert("warden_session".into(), cookie);
    assert_eq!(browser.get("/dashboard/api/me").status, 401);
    assert_eq!(
        ana.get("/dashboard/api/me").status,
        200,
        "other sessions go on"
    );
}

#[test]
fn operators_edit_the_model_catalog_and_prices_from_the_page() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let password = initial_password(&cp);
    let mut admin = Browser::new(&cp);
    assert_eq!(admin.sign_in("admin", &password).status, 303);
    let csrf = admin.page_csrf();
    let version = || cp.admin("GET", "/admin/v1/snapshot", None).json()["version"].as_u64();
    let before = version();

    // A new alias, with a fallback: stored, published, listed.
    let saved = admin.form(
        "/dashboard/operations/models",
        &[
            ("csrf", &csrf),
            ("alias", "house-model"),
            ("provider", "groq"),
            ("upstream_model", "llama-3.3-70b-versatile"),
            ("kind", "chat"),
            ("fallbacks", "gpt-4o-mini, gpt-4o"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    assert!(version() > before, "the change is published");
    let models = cp.admin("GET", "/admin/v1/models", None).json();
    let house = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["alias"] == "house-model")
        .expect("the alias saved on the page")
        .clone();
    assert_eq!(house["provider"], "groq");
    assert_eq!(house["fallbacks"], json!(["gpt-4o-mini", "gpt-4o"]));
    let page = admin.get("/dashboard/operations?done=model-saved").text();
    assert!(
        page.contains("house-model") && page.contains("Model saved"),
        "{page}"
    );

    // What the admin API refuses, the page refuses with the reason: an unknown fallback, and
    // deleting a model the `auto` route group routes to.
    let bad = admin.form(
        "/dashboard/operations/models",
        &[
            ("csrf", &csrf),
            ("alias", "broken"),
            ("provider", "openai"),
            ("upstream_model", "gpt-4o"),
            ("fallbacks", "no-such-alias"),
        ],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("no-such-alias"), "{}", bad.text());
    let in_use = admin.form(
        "/dashboard/operations/models/claude-4-sonnet/delete",
        &[("csrf", &csrf), ("confirm", "yes")],
    );
    assert_eq!(in_use.status, 409);
    assert!(
        in_use.text().contains("route group auto"),
        "{}",
        in_use.text()
    );
    let unsure = admin.form(
        "/dashboard/operations/models/house-model/delete",
        &[("csrf", &csrf)],
    );
    assert_eq!(unsure.status, 400);
    let gone = admin.form(
        "/dashboard/operations/models/house-model/delete",
        &[("csrf", &csrf), ("confirm", "yes")],
    );
    assert_eq!(gone.status, 303, "{}", gone.text());
    assert!(!cp
        .admin("GET", "/admin/v1/models", None)
        .text()
        .contains("house-model"));

    // A price: stored and published (the data planes' spend limits use the table).
    let before = version();
    let priced = admin.form(
        "/dashboard/operations/prices",
        &[
            ("csrf", &csrf),
            ("provider", "groq"),
            ("model", "llama-3.3-70b-versatile"),
            ("input_per_mtok", "0.59"),
            ("output_per_mtok", "0.79"),
        ],
    );
    assert_eq!(priced.status, 303, "{}", priced.text());
    assert!(version() > before, "a price change is published");
    let prices = cp.admin("GET", "/admin/v1/prices", None).json();
    assert!(
        prices["prices"].as_array().unwrap().iter().any(|p| p
            == &json!({"provider": "groq", "model": "llama-3.3-70b-versatile",
                "input_per_mtok": "0.59", "output_per_mtok": "0.79"})),
        "{prices}"
    );
    let bad_price = admin.form(
        "/dashboard/operations/prices",
        &[
            ("csrf", &csrf),
            ("provider", "groq"),
            ("model", "x"),
            ("input_per_mtok", "cheap"),
            ("output_per_mtok", "0.79"),
        ],
    );
    assert_eq!(bad_price.status, 400);

    // Without the page's token, or as a tenant's user: refused.
    let forged = admin.form(
        "/dashboard/operations/prices",
        &[
            ("csrf", "forged"),
            ("provider", "groq"),
            ("model", "x"),
            ("input_per_mtok", "1"),
            ("output_per_mtok", "1"),
        ],
    );
    assert_eq!(forged.status, 403);
    let (acme, _) = tenant(&cp, "acme");
    let made = admin.api(
        "POST",
        "/dashboard/api/users",
        &json!({"name": "ana", "tenant": acme, "role": "owner"}),
        Some(&csrf),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let mut ana = Browser::new(&cp);
    let ana_password = made.json()["password"].as_str().unwrap().to_owned();
    assert_eq!(ana.sign_in("ana", &ana_password).status, 303);
    let ana_csrf = ana.page_csrf();
    let by_owner = ana.form(
        "/dashboard/operations/models/gpt-4o/delete",
        &[("csrf", &ana_csrf), ("confirm", "yes")],
    );
    assert_eq!(by_owner.status, 403);

    // Plans: the operator moves a tenant to another plan on the signed-in page; its owner sees
    // the plan and cannot change it.
    let plan = format!("/dashboard/tenants/{acme}/plan");
    let moved = admin.form(&plan, &[("csrf", &csrf), ("plan", "enterprise")]);
    assert_eq!(moved.status, 303, "{}", moved.text());
    let tenants = cp.admin("GET", "/admin/v1/tenants", None).json();
    assert_eq!(tenants["tenants"][0]["plan"], "enterprise", "{tenants}");
    assert!(ana.get("/dashboard/").text().contains("Plan: enterprise"));
    let by_owner = ana.form(&plan, &[("csrf", &ana_csrf), ("plan", "developer")]);
    assert_eq!(by_owner.status, 403);

    // A name already taken: the signed-in page again, with the reason, not a JSON error.
    let twice = admin.form(
        &format!("/dashboard/tenants/{acme}/projects"),
        &[
            ("csrf", &csrf),
            ("name", "acme-app"),
            ("environment", "staging"),
        ],
    );
    assert_eq!(twice.status, 409);
    let page = twice.text();
    assert!(
        page.contains("<html") && page.contains("the tenant has a project named"),
        "{page}"
    );
    let tenant_twice = admin.form(
        "/dashboard/tenants",
        &[("csrf", &csrf), ("name", "acme"), ("plan", "team")],
    );
    assert_eq!(tenant_twice.status, 409);
    assert!(tenant_twice.text().contains("a tenant named"));
}

#[test]
fn owners_set_routing_guardrails_and_limits_on_the_settings_page() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let password = initial_password(&cp);
    let mut admin = Browser::new(&cp);
    assert_eq!(admin.sign_in("admin", &password).status, 303);
    let admin_csrf = admin.page_csrf();
    let (acme, project) = tenant(&cp, "acme");
    let (_, other_project) = tenant(&cp, "globex");
    // An operator pattern set through the admin API: the page keeps it.
    let policy = format!("/admin/v1/projects/{project}/guardrails");
    let patterns = json!({"custom_patterns": [{"id": "ticket", "pattern": "TCK-[0-9]{5}", "action": "redact"}]});
    assert_eq!(cp.admin("PUT", &policy, Some(&patterns)).status, 200);
    let mut person = |name: &str, role: &str| {
        let made = admin.api(
            "POST",
            "/dashboard/api/users",
            &json!({"name": name, "tenant": acme, "role": role}),
            Some(&admin_csrf),
        );
        assert_eq!(made.status, 201, "{}", made.text());
        let mut b = Browser::new(&cp);
        let pw = made.json()["password"].as_str().unwrap().to_owned();
        assert_eq!(b.sign_in(name, &pw).status, 303);
        b
    };
    let mut ana = person("ana", "owner");
    let mut max = person("max", "member");
    let settings = format!("/dashboard/projects/{project}/settings");
    let page = ana.get(&settings);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Save routing") && page.text().contains("ticket"));
    let csrf = ana.page_csrf();

    // Routing: pooled keys only for OpenAI, the rest as the project's mode.
    let routed = ana.form(
        &format!("{settings}/routing"),
        &[
            ("csrf", &csrf),
            ("key_mode", "byok_only"),
            ("openai", "pooled_only"),
            ("groq", ""),
        ],
    );
    assert_eq!(routed.status, 303, "{}", routed.text());
    assert_eq!(
        cp.admin(
            "GET",
            &format!("/admin/v1/projects/{project}/routing"),
            None
        )
        .json(),
        json!({"key_mode": "byok_only", "providers": {"openai": "pooled_only"}})
    );

    // Guardrails: each category's action and a threshold; the operator's pattern stays.
    let guarded = ana.form(
        &format!("{settings}/guardrails"),
        &[
            ("csrf", &csrf),
            ("pii", "redact"),
            ("secrets", "block"),
            ("injection", "block"),
            ("content_safety", "off"),
            ("response_pii", "redact"),
            ("response_secrets", "off"),
            ("injection_threshold", "0.8"),
            ("injection_tool_threshold", ""),
            ("injection_flag_threshold", ""),
            ("phone_regions", "us, GB"),
            ("phone_standalone", "on"),
            ("unscanned", "block"),
        ],
    );
    assert_eq!(guarded.status, 303, "{}", guarded.text());
    let stored = cp.admin("GET", &policy, None).json();
    assert_eq!(
        (
            &stored["pii"],
            &stored["secrets"],
            &stored["injection"],
            &stored["response_pii"],
            &stored["injection_threshold"]
        ),
        (
            &json!("redact"),
            &json!("block"),
            &json!("block"),
            &json!("redact"),
            &json!(0.8)
        )
    );
    assert!(stored.get("content_safety").is_none(), "{stored}");
    assert_eq!(stored["custom_patterns"][0]["id"], "ticket", "{stored}");
    assert_eq!(stored["phone_regions"], json!(["US", "GB"]), "{stored}");
    assert_eq!(stored["phone_standalone"], json!(true), "{stored}");
    assert_eq!(stored["unscanned"], json!("block"), "{stored}");
    let shown = ana.get(&settings);
    assert!(
        shown
            .text()
            .contains("name=\"phone_regions\" value=\"US, GB\""),
        "{}",
        shown.text()
    );
    assert!(
        shown
            .text()
            .contains("<option value=\"on\" selected>taken without a phone word</option>"),
        "{}",
        shown.text()
    );
    // What the admin API refuses, the page refuses, with the reason.
    let bad = ana.form(
        &format!("{settings}/guardrails"),
        &[
            ("csrf", &csrf),
            ("pii", "redact"),
            ("injection_threshold", "2"),
        ],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("injection_threshold"), "{}", bad.text());
    let bad = ana.form(
        &format!("{settings}/guardrails"),
        &[
            ("csrf", &csrf),
            ("pii", "redact"),
            ("phone_regions", "US, Atlantis"),
        ],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("ATLANTIS"), "{}", bad.text());
    let bad = ana.form(
        &format!("{settings}/guardrails"),
        &[("csrf", &csrf), ("phone_standalone", "always")],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("phone_standalone"), "{}", bad.text());
    let restore_answers = ana.form(
        &format!("{settings}/guardrails"),
        &[("csrf", &csrf), ("response_pii", "restore")],
    );
    assert_eq!(
        restore_answers.status, 400,
        "restore is not offered for answers"
    );

    // Limits: empty fields are no limit.
    let limited = ana.form(
        &format!("{settings}/limits"),
        &[
            ("csrf", &csrf),
            ("requests_per_minute", "120"),
            ("tokens_per_minute", ""),
            ("monthly_spend_usd", "250"),
            ("monthly_spend_warning_usd", "200"),
        ],
    );
    assert_eq!(limited.status, 303, "{}", limited.text());
    assert_eq!(
        cp.admin("GET", &format!("/admin/v1/projects/{project}/limits"), None)
            .json(),
        json!({"requests_per_minute": 120, "monthly_spend_usd": "250", "monthly_spend_warning_usd": "200"})
    );
    let shown = ana.get(&settings).text();
    assert!(
        shown.contains("value=\"120\"") && shown.contains("value=\"250\""),
        "{shown}"
    );

    // The answer cache: exact, served for ten minutes; a mode not offered is refused.
    let cached = ana.form(
        &format!("{settings}/cache"),
        &[
            ("csrf", &csrf),
            ("mode", "exact"),
            ("ttl_s", "600"),
            ("max_mb", ""),
        ],
    );
    assert_eq!(cached.status, 303, "{}", cached.text());
    assert_eq!(
        cp.admin("GET", &format!("/admin/v1/projects/{project}/cache"), None)
            .json(),
        json!({"mode": "exact", "ttl_s": 600, "semantic_threshold": 0.8,
            "semantic_max_temperature": null, "max_mb": 0, "generation": 0})
    );
    let semantic_form: [(&str, &str); 5] = [
        ("csrf", &csrf),
        ("mode", "semantic"),
        ("ttl_s", "600"),
        ("semantic_threshold", "0.9"),
        ("semantic_max_temperature", "0"),
    ];
    let stored = |generation: u32| {
        let got = cp
            .admin("GET", &format!("/admin/v1/projects/{project}/cache"), None)
            .json();
        let want = json!({"mode": "semantic", "ttl_s": 600, "semantic_threshold": 0.9,
            "semantic_max_temperature": 0.0, "max_mb": 0, "generation": generation});
        assert_eq!(got, want);
    };
    let semantic = ana.form(&format!("{settings}/cache"), &semantic_form);
    assert_eq!(semantic.status, 303, "{}", semantic.text());
    stored(0);
    // The box that drops what the cache holds: a new generation, the settings as they were.
    let purge = [&semantic_form[..], &[("purge", "on")]].concat();
    let purged = ana.form(&format!("{settings}/cache"), &purge);
    assert_eq!(purged.status, 303, "{}", purged.text());
    stored(1);
    let page = ana.get(&settings).text();
    assert!(
        page.contains("<option value=\"semantic\" selected>"),
        "{page}"
    );
    let too_close = ana.form(
        &format!("{settings}/cache"),
        &[
            ("csrf", &csrf),
            ("mode", "semantic"),
            ("semantic_threshold", "1.5"),
        ],
    );
    assert_eq!(too_close.status, 400);
    assert!(
        too_close.text().contains("semantic_threshold"),
        "{}",
        too_close.text()
    );
    let too_long = ana.form(
        &format!("{settings}/cache"),
        &[("csrf", &csrf), ("mode", "exact"), ("ttl_s", "99999999")],
    );
    assert_eq!(too_long.status, 400);
    assert!(too_long.text().contains("ttl_s"), "{}", too_long.text());

    // A member sees the settings but cannot change them; another tenant's project is not there.
    let member_page = max.get(&settings);
    assert_eq!(member_page.status, 200);
    assert!(!member_page.text().contains("Save limits"));
    let max_csrf = max.page_csrf();
    let by_member = max.form(
        &format!("{settings}/limits"),
        &[("csrf", &max_csrf), ("requests_per_minute", "1")],
    );
    assert_eq!(by_member.status, 403);
    assert_eq!(
        ana.get(&format!("/dashboard/projects/{other_project}/settings"))
            .status,
        404
    );
    let cross = ana.form(
        &format!("/dashboard/projects/{other_project}/settings/limits"),
        &[("csrf", &csrf), ("requests_per_minute", "1")],
    );
    assert_eq!(cross.status, 404);
    let forged = ana.form(
        &format!("{settings}/limits"),
        &[("csrf", "forged"), ("requests_per_minute", "1")],
    );
    assert_eq!(forged.status, 403);
    assert_eq!(
        cp.admin("GET", &format!("/admin/v1/projects/{project}/limits"), None)
            .json()["requests_per_minute"],
        120
    );
}

#[test]
fn sessions_expire_and_failed_sign_ins_are_limited() {
    let mock = Mock::start(&[]);
    let dir = warden_tests::TempDir::new("controlplane");
    let cp = ControlPlane::start_with(
        dir,
        mock.addr,
        "[dashboard]\nsession_max_s = 4\nlogin_attempts = 3\n",
    );
    let password = initial_password(&cp);
    let mut browser = Browser::new(&cp);
    assert_eq!(browser.sign_in("admin", &password).status, 303);
    assert_eq!(browser.get("/dashboard/api/me").status, 200);
    let ended = eventually(Duration::from_secs(30), || {
        browser.get("/dashboard/api/me").status == 401
    });
    assert!(ended.is_some(), "the session ends after session_max_s");
    assert_eq!(
        browser.get("/dashboard/").header("location"),
        Some("/dashboard/login")
    );

    browser.cookies.remove("warden_session");

    // Three wrong passwords for a name: then even the right one waits out the window.
    for _ in 0..3 {
        assert_eq!(browser.sign_in("admin", "wrong-password").status, 401);
    }
    let limited = browser.sign_in("admin", &password);
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.text().contains("Too many failed sign-ins"));
    assert!(!browser.cookies.contains_key("warden_session"));
    // Another name is not held back by them.
    assert_eq!(browser.sign_in("nobody", "x").status, 401);

    // `user add` on the command line: another operator, who signs in.
    let out = std::process::Command::new(warden_tests::bin("warden-controlplane"))
        .args(["user", "add", "--config"])
        .arg(cp.dir.0.join("controlplane.toml"))
        .args(["--name", "ops2", "--role", "operator"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let ops2 = text.trim().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(ops2.len(), 20, "{text}");
    let mut second = Browser::new(&cp);
    assert_eq!(second.sign_in("ops2", &ops2).status, 303);
    assert_eq!(
        second.get("/dashboard/api/me").json()["role"],
        json!("operator")
    );
    let refused = std::process::Command::new(warden_tests::bin("warden-controlplane"))
        .args(["user", "add", "--config"])
        .arg(cp.dir.0.join("controlplane.toml"))
        .args(["--name", "x", "--tenant", "ten_missing", "--role", "member"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no tenant"));
}

/// The seeds' flow from the browser alone: a tenant's owner adds a provider key (the page then
/// shows its fingerprint, never the key), makes a Warden key (shown once), and a request through
/// the data plane with it is served on the tenant's own key; the provider key is deleted (with
/// confirmation) and the next request is served on a pooled key. Another tenant's user reaches
/// none of it.
#[test]
fn a_tenant_adds_keys_from_the_browser_and_the_data_plane_serves_them() {
    use warden_tests::{Driver, Gateway};
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let pooled = cp.admin(
        "POST",
        "/admin/v1/pooled-keys",
        Some(&json!({"provider": "openai", "key": "sk-dashboard-pooled-0001"})),
    );
    assert_eq!(pooled.status, 201, "{}", pooled.text());
    let (acme, project) = tenant(&cp, "acme");
    let (globex, _) = tenant(&cp, "globex");
    let mut admin = Browser::new(&cp);
    assert_eq!(admin.sign_in("admin", &initial_password(&cp)).status, 303);
    let csrf = admin.page_csrf();
    let mut invited = |name: &str, tenant: &str| {
        let made = admin.api(
            "POST",
            "/dashboard/api/users",
            &json!({"name": name, "tenant": tenant, "role": "owner"}),
            Some(&csrf),
        );
        assert_eq!(made.status, 201, "{}", made.text());
        let mut b = Browser::new(&cp);
        assert_eq!(
            b.sign_in(name, made.json()["password"].as_str().unwrap())
                .status,
            303
        );
        b
    };
    let mut ana = invited("ana", &acme);
    let mut gil = invited("gil", &globex);

    // The operators' page: the data plane at the current snapshot, the pooled key by its
    // fingerprint, the models and prices; a pooled key added and deleted from it. A tenant's
    // owner is refused.
    let ops = eventually(Duration::from_secs(10), || {
        admin
            .get("/dashboard/operations")
            .text()
            .contains("(current)")
    });
    assert!(
        ops.is_some(),
        "{}",
        admin.get("/dashboard/operations").text()
    );
    let ops = admin.get("/dashboard/operations").text();
    let pooled_fp = pooled.json()["fingerprint"].as_str().unwrap().to_owned();
    assert!(
        ops.contains(&pooled_fp) && ops.contains("gpt-4o") && ops.contains("enrolled"),
        "{ops}"
    );
    assert!(!ops.contains("sk-dashboard-pooled-0001"));
    assert_eq!(ana.get("/dashboard/operations").status, 403);
    let csrf = admin.page_csrf();
    let added = admin.form(
        "/dashboard/operations/pooled-keys",
        &[
            ("csrf", &csrf),
            ("provider", "anthropic"),
            ("key", "sk-ant-dashboard-pooled-0002"),
        ],
    );
    assert_eq!(added.status, 303, "{}", added.text());
    let pooled_list = cp.admin("GET", "/admin/v1/pooled-keys", None).json();
    let second = pooled_list["pooled_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["provider"] == "anthropic")
        .expect("the pooled key added on the page")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let delete = format!("/dashboard/operations/pooled-keys/{second}/delete");
    let ana_csrf = ana.page_csrf();
    let by_owner = ana.form(&delete, &[("csrf", &ana_csrf), ("confirm", "yes")]);
    assert_eq!(by_owner.status, 403, "operators only");
    let deleted = admin.form(&delete, &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(deleted.status, 303, "{}", deleted.text());
    assert_eq!(
        cp.admin("GET", "/admin/v1/pooled-keys", None).json()["pooled_keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The signed-in page lists the tenant's project; its page has the forms.
    let home = ana.get("/dashboard/");
    assert!(
        home.text()
            .contains(&format!("/dashboard/projects/{project}")),
        "{}",
        home.text()
    );
    let page_path = format!("/dashboard/projects/{project}");
    let page = ana.get(&page_path);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Add Provider Key"));
    let csrf = hidden(&page.text(), "csrf");

    // API Keys → Add Provider Key: OpenAI, paste, save.
    let own = "sk-dashboard-own-key-7731";
    let path = format!("{page_path}/provider-keys");
    let saved = ana.form(
        &path,
        &[
            ("csrf", &csrf),
            ("provider", "openai"),
            ("key", own),
            ("label", "main"),
            ("priority", "5"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    let page = ana.get(saved.header("location").unwrap());
    let text = page.text();
    assert!(text.contains("Provider key saved"), "{text}");
    assert!(text.contains("openai") && text.contains("main"));
    assert!(!text.contains(own), "the key is never shown again");
    let listed = cp
        .admin(
            "GET",
            &format!("/admin/v1/projects/{project}/provider-keys"),
            None,
        )
        .json();
    let fingerprint = listed["provider_keys"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains(&fingerprint));
    assert_eq!(listed["provider_keys"][0]["priority"], 5, "{listed}");
    let not_a_number = ana.form(
        &path,
        &[
            ("csrf", &csrf),
            ("provider", "openai"),
            ("key", "sk-other-2"),
            ("priority", "first"),
        ],
    );
    assert_eq!(not_a_number.status, 400);
    // The key's priority changed on its row.
    let reorder = format!(
        "{page_path}/provider-keys/{}/priority",
        listed["provider_keys"][0]["id"].as_str().unwrap()
    );
    let reordered = ana.form(&reorder, &[("csrf", &csrf), ("priority", "3")]);
    assert_eq!(reordered.status, 303, "{}", reordered.text());
    let relisted = cp
        .admin(
            "GET",
            &format!("/admin/v1/projects/{project}/provider-keys"),
            None,
        )
        .json();
    assert_eq!(relisted["provider_keys"][0]["priority"], 3, "{relisted}");
    assert_eq!(
        ana.form(&reorder, &[("csrf", &csrf), ("priority", "soon")])
            .status,
        400
    );
    let key_id = listed["provider_keys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same key again, a key with a space, no CSRF token: refused, nothing stored.
    let again = ana.form(
        &path,
        &[("csrf", &csrf), ("provider", "openai"), ("key", own)],
    );
    assert_eq!(again.status, 409, "{}", again.text());
    let spaced = ana.form(
        &path,
        &[("csrf", &csrf), ("provider", "openai"), ("key", "sk a")],
    );
    assert_eq!(spaced.status, 400);
    let forged = ana.form(
        &path,
        &[("csrf", "x"), ("provider", "openai"), ("key", "sk-other-1")],
    );
    assert_eq!(forged.status, 403);

    // A Warden key, shown once; the data plane serves it on the tenant's own key.
    let made = ana.form(
        &format!("{page_path}/api-keys"),
        &[("csrf", &csrf), ("name", "app")],
    );
    assert_eq!(made.status, 200, "{}", made.text());
    let made_text = made.text();
    let at = made_text.find("wdn_").expect("the new key is shown");
    let warden_key: String = made_text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert!(
        !ana.get(&page_path).text().contains(&warden_key),
        "shown once only"
    );
    let served = eventually(Duration::from_secs(10), || gw.answers(&warden_key) == 200);
    assert!(
        served.is_some(),
        "a request with the key made in the browser is served"
    );

    // Rotating the provider key from its row, under load: the new key is live before the old
    // one goes, and no request fails.
    let rotated_key = "sk-dashboard-own-key-8842";
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (sent, failed) = std::thread::scope(|scope| {
        let load = scope.spawn(|| {
            let (mut sent, mut failed) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sent += 1;
                if gw.answers(&warden_key) != 200 {
                    failed += 1;
                }
            }
            (sent, failed)
        });
        let rotate = format!("{page_path}/provider-keys/{key_id}/rotate");
        let done = ana.form(&rotate, &[("csrf", &csrf), ("key", rotated_key)]);
        assert_eq!(done.status, 303, "{}", done.text());
        let page = ana.get(done.header("location").unwrap()).text();
        assert!(page.contains("Provider key rotated"), "{page}");
        assert!(!page.contains(rotated_key));
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        load.join().unwrap()
    });
    assert!(sent > 0);
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed during the rotation"
    );
    let listed = cp
        .admin(
            "GET",
            &format!("/admin/v1/projects/{project}/provider-keys"),
            None,
        )
        .json();
    let keys = listed["provider_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{listed}");
    assert_ne!(keys[0]["fingerprint"].as_str().unwrap(), fingerprint);
    assert_eq!(keys[0]["label"], json!("main"));
    let key_id = keys[0]["id"].as_str().unwrap().to_owned();

    // Another tenant's owner: the page, its forms and its deletions answer 404.
    assert_eq!(gil.get(&page_path).status, 404);
    let gil_csrf = gil.page_csrf();
    let theirs = gil.form(
        &path,
        &[
            ("csrf", &gil_csrf),
            ("provider", "openai"),
            ("key", "sk-gil-0001"),
        ],
    );
    assert_eq!(theirs.status, 404);
    let delete = format!("{page_path}/provider-keys/{key_id}/delete");
    assert_eq!(
        gil.form(&delete, &[("csrf", &gil_csrf), ("confirm", "yes")])
            .status,
        404
    );

    // Deleting needs the confirmation; then the next request is served on the pooled key.
    let unconfirmed = ana.form(&delete, &[("csrf", &csrf)]);
    assert_eq!(unconfirmed.status, 400, "{}", unconfirmed.text());
    let deleted = ana.form(&delete, &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(deleted.status, 303, "{}", deleted.text());
    assert!(ana
        .get(deleted.header("location").unwrap())
        .text()
        .contains("Provider key deleted"));
    let left = cp
        .admin(
            "GET",
            &format!("/admin/v1/projects/{project}/provider-keys"),
            None,
        )
        .json();
    assert_eq!(left["provider_keys"].as_array().unwrap().len(), 0);
    // Until the data plane has the change a request may still go out on the deleted key; each
    // is answered either way.
    let sources = eventually(Duration::from_secs(30), || {
        assert_eq!(gw.answers(&warden_key), 200);
        let rows = cp
            .admin(
                "GET",
                &format!("/admin/v1/requests?project={project}"),
                None,
            )
            .json();
        let sources: Vec<String> = rows["requests"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|r| r["key_source"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        sources.contains(&"byok".to_owned()) && sources.contains(&"pooled".to_owned())
    });
    assert!(
        sources.is_some(),
        "the request log shows the own key, then the pooled one"
    );
    // The same, on the project's request log page; another tenant's user gets 404 there.
    let log = ana.get(&format!("{page_path}/requests"));
    assert_eq!(log.status, 200, "{}", log.text());
    let log = log.text();
    assert!(
        log.contains("<td>yours</td>") && log.contains("<td>pooled</td>"),
        "{log}"
    );
    assert!(!log.contains(own) && !log.contains(&warden_key));
    assert!(log.contains(" ms"), "each row says how long it took: {log}");
    // Filters narrow the log, on the page and in the API alike.
    let pooled = ana
        .get(&format!("{page_path}/requests?key_source=pooled"))
        .text();
    assert!(
        pooled.contains("<td>pooled</td>") && !pooled.contains("<td>yours</td>"),
        "{pooled}"
    );
    let failed = ana
        .get(&format!("{page_path}/requests?outcome=error"))
        .text();
    assert!(
        failed.contains("No requests."),
        "every request succeeded: {failed}"
    );
    let api = |query: &str| {
        let rows = cp
            .admin(
                "GET",
                &format!("/admin/v1/requests?project={project}&limit=1000&{query}"),
                None,
            )
            .json();
        rows["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key_source"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (byok, all) = (api("key_source=byok"), api("outcome=ok"));
    assert!(
        !byok.is_empty() && byok.iter().all(|s| s == "byok"),
        "{byok:?}"
    );
    assert!(all.len() > byok.len(), "{all:?}");
    assert!(api("outcome=error").is_empty());
    assert_eq!(gil.get(&format!("{page_path}/requests")).status, 404);

    // Usage: a day's requests by key source for the chart, and the table by model; another
    // tenant's user gets 404.
    let usage = format!("/dashboard/api/tenants/{acme}/usage?days=2");
    let counted = eventually(Duration::from_secs(30), || {
        let u = ana.get(&usage).json();
        let sum = |k: &str| -> u64 {
            u[k].as_array()
                .map_or(0, |a| a.iter().filter_map(|v| v.as_u64()).sum())
        };
        sum("yours") >= 1 && sum("pooled") >= 1
    });
    assert!(counted.is_some(), "{}", ana.get(&usage).text());
    let u = ana.get(&usage).json();
    assert_eq!(u["days"].as_array().unwrap().len(), 2);
    assert!(
        u["cost_usd"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_f64().unwrap() > 0.0),
        "{u}"
    );
    let table = ana.get(&format!("/dashboard/tenants/{acme}/usage")).text();
    assert!(
        table.contains("<td>gpt-4o</td><td>pooled</td>")
            && table.contains("<td>gpt-4o</td><td>yours</td>"),
        "{table}"
    );
    assert_eq!(gil.get(&usage).status, 404);
    let statement = format!("/dashboard/tenants/{acme}/statement");
    let page = ana.get(&statement);
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.text();
    assert!(
        page.contains("<strong>Total</strong>") && page.contains("<td>pooled</td>"),
        "{page}"
    );
    assert_eq!(ana.get(&format!("{statement}?month=2026-13")).status, 400);
    assert_eq!(gil.get(&statement).status, 404);
    assert_eq!(
        gil.get(&format!("/dashboard/tenants/{acme}/usage")).status,
        404
    );

    // Projects and tenants from the forms: an owner makes a project in its tenant (and lands
    // on its page), not in another's; an operator makes a tenant.
    let home = ana.get("/dashboard/");
    let csrf = hidden(&home.text(), "csrf");
    let made = ana.form(
        &format!("/dashboard/tenants/{acme}/projects"),
        &[
            ("csrf", &csrf),
            ("name", "staging-app"),
            ("environment", "staging"),
        ],
    );
    assert_eq!(made.status, 303, "{}", made.text());
    let new_page = ana.get(made.header("location").unwrap());
    assert!(new_page.text().contains("staging-app") && new_page.text().contains("staging"));
    let elsewhere = ana.form(
        &format!("/dashboard/tenants/{globex}/projects"),
        &[
            ("csrf", &csrf),
            ("name", "sneaky"),
            ("environment", "production"),
        ],
    );
    assert_eq!(elsewhere.status, 404);
    let not_operator = ana.form(
        "/dashboard/tenants",
        &[("csrf", &csrf), ("name", "x"), ("plan", "team")],
    );
    assert_eq!(not_operator.status, 403);
    let csrf = admin.page_csrf();
    let tenant = admin.form(
        "/dashboard/tenants",
        &[("csrf", &csrf), ("name", "initech"), ("plan", "enterprise")],
    );
    assert_eq!(tenant.status, 303, "{}", tenant.text());
    assert!(admin.get("/dashboard/").text().contains("initech"));
    let listed = cp.admin("GET", "/admin/v1/tenants", None).json();
    assert!(listed.to_string().contains("initech"));

    // Deleting the project (confirmed, by its owner; another tenant's user gets 404) takes its
    // keys from the data plane: the Warden key made in the browser stops working.
    let delete = format!("{page_path}/delete");
    let gil_csrf = gil.page_csrf();
    assert_eq!(
        gil.form(&delete, &[("csrf", &gil_csrf), ("confirm", "yes")])
            .status,
        404
    );
    let csrf = ana.page_csrf();
    assert_eq!(ana.form(&delete, &[("csrf", &csrf)]).status, 400);
    let gone = ana.form(&delete, &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(
        (gone.status, gone.header("location")),
        (303, Some("/dashboard/"))
    );
    assert_eq!(ana.get(&page_path).status, 404);
    let refused = eventually(Duration::from_secs(10), || gw.answers(&warden_key) == 401);
    assert!(refused.is_some(), "the deleted project's key is refused");

    // The admin API: a tenant's projects; a tenant with projects is not deleted; once they are
    // gone it is, with its dashboard users.
    let projects = cp.admin("GET", &format!("/admin/v1/tenants/{acme}/projects"), None);
    assert_eq!(projects.status, 200, "{}", projects.text());
    let left = projects.json()["projects"].as_array().unwrap().clone();
    assert_eq!(left.len(), 1, "{left:?}");
    let tenant_path = format!("/admin/v1/tenants/{acme}");
    assert_eq!(cp.admin("DELETE", &tenant_path, None).status, 409);
    let last = left[0]["id"].as_str().unwrap();
    assert_eq!(
        cp.admin("DELETE", &format!("/admin/v1/projects/{last}"), None)
            .status,
        204
    );
    assert_eq!(
        cp.admin("DELETE", &format!("/admin/v1/projects/{last}"), None)
            .status,
        404
    );
    assert_eq!(cp.admin("DELETE", &tenant_path, None).status, 204);
    assert_eq!(cp.admin("DELETE", &tenant_path, None).status, 404);
    assert_eq!(
        ana.get("/dashboard/api/me").status,
        401,
        "its users are gone"
    );
}
