//! Tests of what each dialect's reader names as unread: images, audio, video, PDFs and other
//! binary files, and content given by reference.

use super::tests::read;
use super::*;

/// The kinds a reader named as unread, in order.
fn unread_kinds(out: &[(Source, String)]) -> Vec<&str> {
    out.iter()
        .filter(|(s, _)| *s == Source::Unread)
        .map(|(_, t)| t.as_str())
        .collect()
}

#[test]
fn images_audio_pdfs_and_files_by_reference_are_named_as_unread_in_every_dialect() {
    let chat = read(
        Dialect::OpenAi,
        r#"{"model":"m","messages":[{"role":"user","content":[
          {"type":"text","text":"look"},
          {"type":"image_url","image_url":{"url":"https://example.org/a.png"}},
          {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},
          {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0xLjQ="}},
          {"type":"file","file":{"file_id":"file-abc"}},
          {"type":"file","file":{"file_data":"data:text/plain;base64,@@not base64@@"}},
          {"type":"brand_new_part","image_url":"https://example.org/b.png","words":"w"}]}]}"#,
    );
    assert_eq!(
        unread_kinds(&chat),
        ["image", "audio", "document", "file", "document", "image"]
    );
    let responses = {
        let mut out = Vec::new();
        let body = r#"{"model":"m","input":[{"role":"user","content":[
          {"type":"input_image","image_url":"https://example.org/a.png"},
          {"type":"input_file","file_url":"https://example.org/a.pdf"},
          {"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0xLjQ="}]},
          {"type":"function_call_output","call_id":"c1","output":[
            {"type":"input_image","image_url":"https://example.org/tool.png"},
            {"type":"input_file","file_url":"https://example.org/tool.pdf"}]}]}"#;
        responses_body(body.as_bytes(), &mut |s, t| out.push((s, t.to_owned())));
        out
    };
    assert_eq!(
        unread_kinds(&responses),
        ["image", "file", "document", "image", "file"]
    );
    let anthropic = read(
        Dialect::Anthropic,
        r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
          {"type":"image","source":{"type":"url","url":"https://example.org/a.png"}},
          {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="}},
          {"type":"document","source":{"type":"url","url":"https://example.org/a.pdf"}},
          {"type":"document","source":{"type":"file","file_id":"file_011"}},
          {"type":"container_upload","file_id":"file_012"},
          {"type":"tool_result","tool_use_id":"t","content":[
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]}]}"#,
    );
    assert_eq!(
        unread_kinds(&anthropic),
        ["image", "document", "document", "file", "file", "image"]
    );
    let gemini = read(
        Dialect::Gemini,
        r#"{"contents":[{"role":"user","parts":[
          {"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}},
          {"inline_data":{"mime_type":"audio/mp3","data":"SUQz"}},
          {"fileData":{"mimeType":"video/mp4","fileUri":"https://example.org/v.mp4"}},
          {"file_data":{"file_uri":"gs://bucket/f"}},
          {"functionResponse":{"name":"f","response":{},
            "parts":[{"inlineData":{"mimeType":"application/pdf","data":"JVBERi0xLjQ="}},
              {"fileData":{"mimeType":"image/png","fileUri":"gs://bucket/p.png"}}]}}]}]}"#,
    );
    assert_eq!(
        unread_kinds(&gemini),
        ["image", "audio", "video", "file", "document", "image"]
    );
    // Text alone names nothing unread, and a text document sent encoded is read, not named.
    let plain = read(
        Dialect::OpenAi,
        r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"},
          {"type":"file","file":{"file_data":"data:text/plain;base64,aGk="}}]}]}"#,
    );
    assert!(unread_kinds(&plain).is_empty(), "{plain:?}");
}
