//! Tests of `extract.rs`: what each dialect's reader reports, and where from.

use super::*;

fn collect(dialect: Dialect, file: &str) -> Vec<(Source, String)> {
    let path = format!(
        "{}/../tests/fixtures/wire/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut bytes = std::fs::read(&path).unwrap_or_default();
    let Ok(v) = simd_json::to_borrowed_value(&mut bytes) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    texts(dialect, &v, &mut |s, t| out.push((s, t.to_owned())));
    out
}

/// The weather tool every fixture defines, as the model reads it.
fn weather_tool() -> Vec<(Source, String)> {
    [
        "get_weather",
        "Current weather",
        "type",
        "object",
        "properties",
        "city",
        "type",
        "string",
        "required",
        "city",
    ]
    .iter()
    .map(|t| (Source::Definition, t.to_string()))
    .collect()
}

/// The texts of a fixture, without its tool definitions (checked once against
/// [`weather_tool`]).
fn conversation(dialect: Dialect, file: &str) -> Vec<(Source, String)> {
    let all = collect(dialect, file);
    let (defs, rest): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|(s, _)| *s == Source::Definition);
    assert_eq!(defs, weather_tool(), "{file}");
    rest
}

#[test]
fn tool_descriptions_schemas_and_output_formats_are_read() {
    let body = r#"{"model":"m","messages":[{"role":"assistant","content":null,
        "function_call":{"name":"f","arguments":"{\"a\":\"legacy args\"}"}}],
        "functions":[{"name":"lookup","description":"legacy description",
          "parameters":{"type":"object","properties":{"secret field":{"enum":["e1"]}}}}],
        "response_format":{"type":"json_schema","json_schema":{"name":"out",
          "description":"format description","schema":{"properties":{"k":{"description":"deep"}}}}},
        "prediction":{"type":"content","content":"predicted text"}}"#;
    let mut bytes = body.as_bytes().to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = Vec::new();
    texts(Dialect::OpenAi, &v, &mut |s, t| {
        seen.push((s, t.to_owned()))
    });
    for want in [
        (Source::ToolArguments, r#"{"a":"legacy args"}"#),
        (Source::Definition, "legacy description"),
        (Source::Definition, "secret field"),
        (Source::Definition, "e1"),
        (Source::Definition, "format description"),
        (Source::Definition, "deep"),
        (Source::User, "predicted text"),
    ] {
        assert!(
            seen.contains(&(want.0, want.1.to_string())),
            "{want:?} not in {seen:?}"
        );
    }
    let mut bytes = br#"{"contents":[],"generationConfig":{"responseSchema":
        {"properties":{"x":{"description":"gemini schema text"}}}}}"#
        .to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = Vec::new();
    texts(Dialect::Gemini, &v, &mut |s, t| {
        seen.push((s, t.to_owned()))
    });
    assert!(seen.contains(&(Source::Definition, "gemini schema text".into())));
}

#[test]
fn the_same_conversation_reads_the_same_in_every_dialect() {
    let openai = conversation(Dialect::OpenAi, "openai-chat-request.json");
    assert_eq!(
        openai,
        vec![
            (Source::System, "Be brief".into()),
            (Source::User, "Weather in Paris?".into()),
            (Source::ToolArguments, r#"{"city":"Paris"}"#.into()),
            (Source::ToolResult, "15C".into()),
            // A stop sequence goes upstream as text.
            (Source::ToolResult, "END".into()),
        ]
    );
    let anthropic = conversation(Dialect::Anthropic, "anthropic-messages-request.json");
    assert_eq!(
        anthropic,
        vec![
            (Source::System, "Be brief".into()),
            (Source::User, "Weather in Paris?".into()),
            (Source::ToolArguments, "city".into()),
            (Source::ToolArguments, "Paris".into()),
            (Source::ToolResult, "15C".into()),
            (Source::ToolResult, "END".into()),
        ]
    );
    let gemini = conversation(Dialect::Gemini, "gemini-request.json");
    assert_eq!(
        gemini,
        vec![
            (Source::System, "Be brief".into()),
            (Source::User, "Weather in Paris?".into()),
            (Source::ToolArguments, "city".into()),
            (Source::ToolArguments, "Paris".into()),
            (Source::ToolResult, "temp".into()),
            (Source::ToolResult, "15C".into()),
            (Source::ToolResult, "END".into()),
        ]
    );
}

#[test]
fn a_responses_body_is_read_with_every_item_type_chat_would_drop() {
    let body = r#"{"model":"m","instructions":"Be brief",
        "input":[{"role":"user","content":[{"type":"input_text","text":"hi"},{"type":"input_image","image_url":"data:x"}]},
          {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"thought"}],"encrypted_content":"opaque"},
          {"type":"function_call","call_id":"c1","name":"f","arguments":"{\"q\":1}"},
          {"type":"function_call_output","call_id":"c1","output":"tool said"},
          {"type":"function_call_output","call_id":"c2","output":[{"type":"input_file","filename":"r.txt",
            "file_data":"data:text/plain;base64,ZmlsZSBhIHRvb2wgcmV0dXJuZWQ="}]},
          {"type":"mcp_call","id":"m1","name":"x","arguments":"mcp args","output":"mcp said"},
          {"type":"brand_new_item","id":"n1","nested":{"words":["new text"]}},
          {"type":"item_reference","id":"msg_1"}],
        "tools":[{"type":"function","name":"f","description":"fn description","parameters":{"type":"object"}},
          {"type":"custom","name":"g","description":"custom description","format":{"type":"grammar","definition":"start: x"}}],
        "text":{"format":{"type":"json_schema","name":"out","schema":{"properties":{"k":{"description":"schema text"}}}}},
        "prompt":{"id":"p","variables":{"city":"Paris"}}}"#;
    let mut bytes = body.as_bytes().to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = Vec::new();
    responses(&v, &mut |s, t| seen.push((s, t.to_owned())));
    for want in [
        (Source::System, "Be brief"),
        (Source::User, "hi"),
        (Source::Assistant, "thought"),
        (Source::ToolArguments, r#"{"q":1}"#),
        (Source::ToolResult, "tool said"),
        (Source::Attachment, "file a tool returned"),
        (Source::ToolResult, "mcp args"),
        (Source::ToolResult, "mcp said"),
        (Source::ToolResult, "new text"),
        (Source::Definition, "fn description"),
        (Source::Definition, "custom description"),
        (Source::Definition, "start: x"),
        (Source::Definition, "schema text"),
        (Source::User, "Paris"),
    ] {
        assert!(
            seen.contains(&(want.0, want.1.to_string())),
            "{want:?} not in {seen:?}"
        );
    }
    // Ids, states and opaque data are not text.
    for never in [
        "opaque",
        "rs_1",
        "c1",
        "n1",
        "msg_1",
        "data:x",
        "function_call_output",
    ] {
        assert!(!seen.iter().any(|(_, t)| t == never), "{never} in {seen:?}");
    }
}

#[test]
fn keys_a_reader_does_not_know_are_read_whole_and_the_model_is_not() {
    let cases: [(Dialect, &str); 3] = [
        (
            Dialect::OpenAi,
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"user":"jane@example.com","session_note":"SSN 123-45-6789","metadata":{"ref":"card 4111"}}"#,
        ),
        (
            Dialect::Anthropic,
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"session_note":"SSN 123-45-6789","metadata":{"user_id":"jane@example.com"}}"#,
        ),
        (
            Dialect::Gemini,
            r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"session_note":"SSN 123-45-6789","generationConfig":{"stopSequences":["jane@example.com"]}}"#,
        ),
    ];
    for (dialect, body) in cases {
        let mut bytes = body.as_bytes().to_vec();
        let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        texts(dialect, &v, &mut |s, t| out.push((s, t.to_owned())));
        let read = |t: &str| out.iter().any(|(s, x)| *s == Source::ToolResult && x == t);
        // The value goes upstream; the key's name is the caller's field, not data.
        assert!(
            read("SSN 123-45-6789") && !read("session_note"),
            "{dialect:?}: {out:?}"
        );
        assert!(read("jane@example.com"), "{dialect:?}: {out:?}");
        assert!(
            !out.iter().any(|(_, x)| x == "m"),
            "{dialect:?}: the model is not text"
        );
        assert_eq!(
            out.first(),
            Some(&(Source::User, "hi".to_owned())),
            "{dialect:?}"
        );
    }
}

#[test]
fn a_token_count_reads_the_request_it_carries_and_nothing_escapes_the_nesting() {
    // Gemini's countTokens takes `contents`, or a whole request under `generateContentRequest`.
    let body = r#"{"generateContentRequest":{"model":"models/m","systemInstruction":{"parts":[{"text":"be brief"}]},
        "contents":[{"role":"user","parts":[{"text":"mail jane@example.com"}]}],
        "generateContentRequest":{"contents":[{"parts":[{"text":"SSN 123-45-6789"}]}]}}}"#;
    let mut bytes = body.as_bytes().to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    texts(Dialect::Gemini, &v, &mut |s, t| out.push((s, t.to_owned())));
    let has = |s: Source, t: &str| out.iter().any(|(x, y)| *x == s && y == t);
    assert!(has(Source::System, "be brief"), "{out:?}");
    assert!(has(Source::User, "mail jane@example.com"), "{out:?}");
    // A request nested in the nested one is not read as a request, and not skipped either.
    assert!(has(Source::ToolResult, "SSN 123-45-6789"), "{out:?}");
    // Not an object: read as the unknown key's value it is.
    let mut bytes = br#"{"generateContentRequest":"card 4111 1111 1111 1111"}"#.to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    texts(Dialect::Gemini, &v, &mut |s, t| out.push((s, t.to_owned())));
    assert!(
        out.iter().any(|(_, t)| t == "card 4111 1111 1111 1111"),
        "{out:?}"
    );
}

/// The texts `body` gives in `dialect`.
pub(super) fn read(dialect: Dialect, body: &str) -> Vec<(Source, String)> {
    let mut bytes = body.as_bytes().to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}: {body}"));
    let mut out = Vec::new();
    texts(dialect, &v, &mut |s, t| out.push((s, t.to_owned())));
    out
}

fn assert_reads(out: &[(Source, String)], wanted: &[(Source, &str)]) {
    for (s, t) in wanted {
        assert!(
            out.iter().any(|(x, y)| x == s && y == t),
            "{s:?} {t:?} not in {out:?}"
        );
    }
}

#[test]
fn gemini_is_read_in_both_spellings_and_with_one_object_for_a_list() {
    // As Google's curl examples and hand-written clients send it.
    let out = read(
        Dialect::Gemini,
        r#"{"system_instruction":{"parts":{"text":"You are a cat."}},
        "contents":{"role":"user","parts":{"text":"card 4111 1111 1111 1111"}},
        "tools":{"function_declarations":{"name":"f","description":"tool words"}},
        "generation_config":{"response_schema":{"description":"schema words"},"response_mime_type":"application/json"},
        "safety_settings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]}"#,
    );
    assert_reads(
        &out,
        &[
            (Source::System, "You are a cat."),
            (Source::User, "card 4111 1111 1111 1111"),
            (Source::Definition, "tool words"),
            (Source::Definition, "schema words"),
        ],
    );
    // Settings under either spelling are not text; the system prompt is not read twice.
    for never in ["application/json", "BLOCK_NONE", "HARM_CATEGORY_HARASSMENT"] {
        assert!(!out.iter().any(|(_, t)| t == never), "{never} in {out:?}");
    }
    assert_eq!(out.iter().filter(|(_, t)| t == "You are a cat.").count(), 1);
}

#[test]
fn gemini_reads_a_string_given_where_a_list_of_contents_or_parts_is_expected() {
    // Google refuses these shapes; a reader that skips them would still send them past every
    // guardrail to a provider (or a proxy in front of one) that reads them.
    let out = read(
        Dialect::Gemini,
        r#"{"contents":"card 4111 1111 1111 1111","systemInstruction":{"parts":"be brief"},
        "requests":[{"content":{"parts":["embed me"]}}]}"#,
    );
    assert_reads(
        &out,
        &[
            (Source::User, "card 4111 1111 1111 1111"),
            (Source::System, "be brief"),
            (Source::User, "embed me"),
        ],
    );
}

#[test]
fn gemini_parts_are_read_member_by_member_and_text_documents_decoded() {
    // "mail jane@example.com" in base64, standard and URL-safe alphabets.
    let out = read(
        Dialect::Gemini,
        r#"{"contents":[{"role":"user","parts":[
          {"inline_data":{"mime_type":"text/plain","data":"bWFpbCBqYW5lQGV4YW1wbGUuY29t"}},
          {"inlineData":{"mimeType":"application/json","data":"eyJzc24iOiIxMjMtNDUtNjc4OSJ9"}},
          {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
          {"fileData":{"mimeType":"text/plain","fileUri":"https://example.org/f.txt"}},
          {"executable_code":{"language":"PYTHON","code":"print(secret)"}},
          {"codeExecutionResult":{"outcome":"OUTCOME_OK","output":"run output"}},
          {"text":"both","functionResponse":{"name":"f","response":{"r":"hidden result"}}},
          {"function_response":{"name":"g","response":{"r":"snake result"},
            "parts":[{"inlineData":{"mimeType":"text/csv","data":"YSxi"}}]}},
          {"brandNewPart":{"words":"new part words"},"thoughtSignature":"c2lnbmF0dXJl"},
          "a bare string part"]}]}"#,
    );
    assert_reads(
        &out,
        &[
            (Source::Attachment, "mail jane@example.com"),
            (Source::Attachment, r#"{"ssn":"123-45-6789"}"#),
            (Source::Attachment, "a,b"),
            (Source::ToolArguments, "print(secret)"),
            (Source::ToolResult, "run output"),
            (Source::User, "both"),
            (Source::ToolResult, "hidden result"),
            (Source::ToolResult, "snake result"),
            (Source::ToolResult, "new part words"),
            (Source::User, "a bare string part"),
        ],
    );
    for never in ["iVBORw0KGgo=", "c2lnbmF0dXJl", "https://example.org/f.txt"] {
        assert!(!out.iter().any(|(_, t)| t == never), "{never} in {out:?}");
    }
}

#[test]
fn anthropic_documents_search_results_and_unknown_blocks_are_read() {
    let out = read(
        Dialect::Anthropic,
        r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
          {"type":"document","title":"doc title","context":"doc context",
            "source":{"type":"content","content":[{"type":"text","text":"content source text"}]}},
          {"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain source text"}},
          {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="}},
          {"type":"document","source":{"type":"base64","media_type":"text/plain","data":"YmFzZTY0IHRleHQ="}},
          {"type":"search_result","source":"https://example.org/a","title":"result title",
            "content":[{"type":"text","text":"search result text"}]},
          {"type":"tool_result","tool_use_id":"toolu_1","content":[
            {"type":"search_result","source":"s","title":"t","content":[{"type":"text","text":"nested search text"}]},
            {"type":"document","source":{"type":"text","data":"nested document text"}}]}]},
          {"role":"assistant","content":[
            {"type":"thinking","thinking":"model thought","signature":"sig"},
            {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"search words"}},
            {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[
              {"type":"web_search_result","url":"https://example.org","title":"web title","encrypted_content":"EqQB"}]},
            {"type":"web_fetch_tool_result","tool_use_id":"srvtoolu_2","content":{"type":"web_fetch_result",
              "url":"https://example.org/p","content":{"type":"document","source":{"type":"text","data":"fetched page text"}}}},
            {"type":"brand_new_block","id":"x1","nested":{"words":"new block words"}}]}]}"#,
    );
    assert_reads(
        &out,
        &[
            (Source::ToolResult, "doc title"),
            (Source::ToolResult, "doc context"),
            (Source::ToolResult, "content source text"),
            (Source::ToolResult, "plain source text"),
            (Source::Attachment, "base64 text"),
            (Source::ToolResult, "result title"),
            (Source::ToolResult, "search result text"),
            (Source::ToolResult, "nested search text"),
            (Source::ToolResult, "nested document text"),
            (Source::ToolArguments, "search words"),
            (Source::ToolResult, "web title"),
            (Source::ToolResult, "fetched page text"),
            (Source::ToolResult, "new block words"),
        ],
    );
    // Binary data, ids, encrypted content and signed thinking are not read.
    for never in [
        "JVBERi0xLjQ=",
        "EqQB",
        "srvtoolu_1",
        "x1",
        "model thought",
        "sig",
    ] {
        assert!(!out.iter().any(|(_, t)| t == never), "{never} in {out:?}");
    }
}

#[test]
fn openai_refusals_text_files_and_unknown_parts_are_read() {
    let out = read(
        Dialect::OpenAi,
        r#"{"model":"m","messages":[
          {"role":"user","content":[
            {"type":"file","file":{"filename":"notes.txt","file_data":"data:text/plain;base64,bm90ZSB0ZXh0"}},
            {"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0xLjQ="}},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
            {"type":"brand_new_part","brand_new_part":{"words":"new part words"}}]},
          {"role":"assistant","content":[{"type":"refusal","refusal":"part refusal"}],"refusal":"message refusal",
            "reasoning_content":"provider field text","tool_call_id":"call_9","audio":{"id":"audio_1"}},
          {"role":"user","name":"participant name","content":{"type":"text","text":"one part alone"}}]}"#,
    );
    assert_reads(
        &out,
        &[
            (Source::Attachment, "note text"),
            (Source::User, "notes.txt"),
            (Source::User, "new part words"),
            (Source::Assistant, "part refusal"),
            (Source::Assistant, "message refusal"),
            (Source::Assistant, "provider field text"),
            (Source::User, "participant name"),
            (Source::User, "one part alone"),
        ],
    );
    for never in ["call_9", "audio_1", "assistant", "user"] {
        assert!(!out.iter().any(|(_, t)| t == never), "{never} in {out:?}");
    }
    assert!(!out
        .iter()
        .any(|(_, t)| t.contains("JVBERi0xLjQ=") || t.contains("iVBOR")));
}

#[test]
fn custom_tools_their_calls_and_every_member_of_a_definition_are_read() {
    let out = read(
        Dialect::OpenAi,
        r#"{"model":"m","tools":[
          {"type":"custom","custom":{"name":"sql","description":"custom tool words",
            "format":{"type":"grammar","grammar":{"syntax":"lark","definition":"start: grammar words"}}}},
          {"type":"function","function":{"name":"f","description":"d","parameters":{},"strict":true,
            "examples":["function example words"]}}],
          "messages":[{"role":"assistant","content":null,"tool_calls":[
            {"id":"call_1","type":"custom","custom":{"name":"sql","input":"SELECT custom input words"}},
            {"id":"call_2","type":"brand_new_call","brand_new_call":{"payload":"new call words"}}]}]}"#,
    );
    assert_reads(
        &out,
        &[
            (Source::Definition, "custom tool words"),
            (Source::Definition, "start: grammar words"),
            (Source::Definition, "function example words"),
            (Source::ToolArguments, "SELECT custom input words"),
            (Source::ToolArguments, "new call words"),
        ],
    );
    assert!(!out.iter().any(|(_, t)| t == "call_1" || t == "call_2"));
    let out = read(
        Dialect::Anthropic,
        r#"{"model":"m","max_tokens":5,"messages":[],"tools":[{"name":"t","description":"d",
          "input_schema":{"type":"object"},"input_examples":[{"city":"example input words"}],
          "cache_control":{"type":"ephemeral"}}]}"#,
    );
    assert_reads(&out, &[(Source::Definition, "example input words")]);
    assert!(!out.iter().any(|(_, t)| t == "ephemeral"));
    let out = read(
        Dialect::Gemini,
        r#"{"contents":[],"tools":[{"functionDeclarations":[{"name":"f","description":"d",
          "parametersJsonSchema":{"description":"json schema words"},
          "response":{"properties":{"r":{"description":"response schema words"}}}}]}]}"#,
    );
    assert_reads(
        &out,
        &[
            (Source::Definition, "json schema words"),
            (Source::Definition, "response schema words"),
        ],
    );
    // An MCP server's credentials are the application's, given to the provider for its server.
    let mut bytes = br#"{"model":"m","input":"hi","tools":[{"type":"mcp","server_label":"crm",
        "server_url":"https://mcp.example.org","server_description":"mcp description words",
        "headers":{"Authorization":"Bearer mcp-header-token"},"authorization":"oauth-token"}]}"#
        .to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    responses(&v, &mut |s, t| out.push((s, t.to_owned())));
    assert_reads(&out, &[(Source::Definition, "mcp description words")]);
    assert!(!out
        .iter()
        .any(|(_, t)| t.contains("mcp-header-token") || t == "oauth-token"));
}
