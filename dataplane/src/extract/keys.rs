//! The member names the readers treat apart: settings (never text) and opaque members (ids,
//! states, signatures, binary data).

/// Keys whose values are settings of fixed vocabularies (`"tool_choice": "auto"`,
/// `"reasoning_effort": "high"`, Gemini's safety categories — under both of its spellings),
/// never text.
pub(super) const SETTINGS: [&str; 22] = [
    "model",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "service_tier",
    "modalities",
    "verbosity",
    "stream_options",
    "logit_bias",
    "thinking",
    "toolConfig",
    "safetySettings",
    "responseMimeType",
    "responseModalities",
    "thinkingConfig",
    "mediaResolution",
    "tool_config",
    "safety_settings",
    "response_mime_type",
    "response_modalities",
    "thinking_config",
    "media_resolution",
];

/// Keys that hold ids, states, signatures or binary data, never text a model reads: left out when
/// a part, block or item of a type a reader does not know is read whole.
pub(super) const OPAQUE: [&str; 15] = [
    "type",
    "id",
    "call_id",
    "tool_use_id",
    "status",
    "encrypted_content",
    "approval_request_id",
    "signature",
    "image_url",
    "file_id",
    "file_data",
    "data",
    "thoughtSignature",
    "thought_signature",
    "cache_control",
];
