#!/usr/bin/env bash
# Run every cargo-fuzz target (fuzz/fuzz_targets) for SECONDS each (default 10), starting from a
# seed corpus made of the test fixtures, and print each target's executions; as many targets run
# at once as there are cores. A crash fails the script with the target's log and artifact path
# (fuzz/artifacts/TARGET/). CI runs it briefly; longer runs (docs/security.md has the figures):
# `bash scripts/fuzz.sh 600`.
#   [FUZZ_SANITIZER=none] bash scripts/fuzz.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1 lets the stable toolchain take
# the sanitizer flags it passes. AddressSanitizer unless FUZZ_SANITIZER says otherwise (CI's
# smoke run builds without it: 262 s instead of 361 s from cold on two cores; the long runs keep it).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizer="${FUZZ_SANITIZER:-address}"
seconds="${1:-10}"
shift || true
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2

wire=tests/fixtures/wire
seed() {  # seed TARGET FILE...
  mkdir -p "fuzz/corpus/$1"
  for f in "${@:2}"; do cp "$f" "fuzz/corpus/$1/seed-$(basename "$f")"; done
}
seed_text() {  # seed_text TARGET NAME TEXT (printf escapes)
  mkdir -p "fuzz/corpus/$1"
  printf "$3" > "fuzz/corpus/$1/seed-$2"
}
seed_text http_head post 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer wdn_k\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}'
seed_text http_head chunked 'POST /v1/messages HTTP/1.1\r\nx-api-key: k\r\ntransfer-encoding: chunked\r\nanthropic-version: 2023-06-01\r\n\r\n'
seed_text http_head get 'GET /v1/models HTTP/1.1\r\nhost: x\r\nx-request-id: abc\r\nconnection: close\r\n\r\n'
seed_text chunked_body body '\x054\r\nWiki\r\n5;ext=1;q="a b"\r\npedia\r\n0\r\ntrailer: x\r\n\r\n'
seed sse_framer $wire/*.sse
seed request_extract $wire/*-request.json
seed_text request_extract escaped '{"model":"m","messages":[{"role":"user","content":"a 4111 1111 1111 1111 b \\u0034111 1111 1111 111\\u0031 jane.doe@example.co\\u006d"}]}'
seed_text request_extract unread '{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://e/a.png"}},{"type":"input_audio","input_audio":{"data":"UklG","format":"wav"}},{"type":"file","file":{"file_id":"f1","file_data":"data:application/pdf;base64,JVBE"}},{"type":"document","source":{"type":"url","url":"https://e/a.pdf"}}]}],"contents":[{"parts":[{"inlineData":{"mimeType":"audio/mp3","data":"SUQz"}},{"fileData":{"mimeType":"video/mp4","fileUri":"gs://b/v"}}]}]}'
seed translate_response $wire/anthropic-messages-response.json $wire/gemini-response.json $wire/*-error.json
seed translate_stream $wire/anthropic-messages-stream.sse $wire/gemini-stream.sse
seed_text translate_response gemini_candidates '{"candidates":[{"content":{"parts":[{"text":"One."},{"functionCall":{"name":"f","args":{"a":1}}}]},"finishReason":"STOP"},{"content":{"parts":[{"text":"Deep","thought":true},{"text":"Two."}]},"finishReason":"MAX_TOKENS","index":1}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7}}'
seed_text translate_stream gemini_candidates 'data: {"candidates":[{"content":{"parts":[{"text":"Hel"}]},"index":0},{"content":{"parts":[{"text":"Bon"}]},"index":1}]}\r\n\r\ndata: {"candidates":[{"content":{"parts":[{"text":"lo"}]},"finishReason":"STOP","index":0},{"content":{"parts":[{"functionCall":{"name":"f"}}]},"finishReason":"STOP","index":1}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4}}\r\n\r\n'
seed api_surface $wire/openai-chat-response.json $wire/openai-chat-stream.sse $wire/gemini-response.json
seed_text api_surface responses '{"model":"m","instructions":"i","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"ok"}],"tools":[{"type":"function","name":"f","parameters":{}}],"text":{"format":{"type":"json_schema","name":"n","schema":{}}},"stream":true}'
seed_text api_surface api_stream 'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1","object":"response","status":"in_progress","output":[]},"sequence_number":0}\n\nevent: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"mail jane.doe@exa","sequence_number":1}\n\nevent: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"mple.com","sequence_number":2}\n\nevent: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"t"}]},{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"mail jane.doe@example.com"}]}],"usage":{"input_tokens":3,"output_tokens":4}},"sequence_number":3}\n\n'
seed_text api_surface embed '{"model":"m","input":["a","b"],"dimensions":4}'
seed cache_reshape $wire/openai-chat-response.json $wire/openai-chat-stream.sse $wire/anthropic-messages-response.json $wire/anthropic-messages-stream.sse $wire/gemini-response.json $wire/gemini-stream.sse
seed_text redis_reply bulk '\x10$5\r\nab\r\nc\r\n'
seed_text redis_reply nil '\x01$-1\r\n'
seed_text snapshot_decode empty ''
seed_text audit_segment header 'WDNAUDK1\x00\x00\x00\x00\x00\x00\x00\x00'
seed_text response_guard openai '\x00{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"mail jane.doe@exa"},"finish_reason":null}]}\n{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"mple.com [EMAIL_1]"},"finish_reason":null}]}\n{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\\"to\\":\\"[EMA"}}]},"finish_reason":null}]}\n{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"IL_1]\\"}"}}],"record":"4111 1111"},"finish_reason":"tool_calls"}]}\n[DONE]'
seed_text response_guard anthropic '\x81message_start|{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"model":"x","stop_reason":null,"usage":{"input_tokens":1,"output_tokens":1}}}\ncontent_block_delta|{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi jane.doe@exa"}}\ncontent_block_delta|{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"mple.com"}}\ncontent_block_stop|{"type":"content_block_stop","index":0}\ncontent_block_delta|{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"to\\": \\"[EMAIL"}}\ncontent_block_delta|{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"_1]\\"}"}}\ncontent_block_stop|{"type":"content_block_stop","index":1}\nmessage_stop|{"type":"message_stop"}'
seed_text response_guard gemini '\x02{"candidates":[{"content":{"role":"model","parts":[{"text":"mail jane.doe@exa"}]}}]}\n{"candidates":[{"content":{"role":"model","parts":[{"text":"mple.com"},{"functionCall":{"name":"f","args":{"to":"[EMAIL_1]","n":[1,"4111 1111 1111 1111"]}}}]},"finishReason":"STOP"}]}'
seed response_guard $wire/openai-chat-response.json $wire/anthropic-messages-response.json $wire/gemini-response.json
seed_text semantic_text greeted 'Hi team, for the router 7, how do I chnage my adress? Thanks!'
seed_text semantic_text shouted 'WHAT ARE YOUR DELIVERY OPTIONS, ACOUNT 12?'

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cd fuzz && cargo fuzz list)
cargo fuzz build -O -s "$sanitizer" >/dev/null

# One target's run, its log in fuzz/artifacts/TARGET.log, one line on stdout (the log's tail on
# a crash, and a non-zero exit).
run_target() {
  local t=$1 log="fuzz/artifacts/$1.log" t_seconds=$seconds runs
  if slow_start "$t" && [ "$seconds" -lt 30 ]; then t_seconds=30; fi
  if ! cargo fuzz run -O -s "$sanitizer" "$t" "fuzz/corpus/$t" -- -max_total_time="$t_seconds" -max_len=16384 \
    -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $t FAILED (log $log)"
    return 1
  fi
  runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  echo "$t: ${runs:-?} executions in ${t_seconds}s, no crash"
}
# request_extract, response_guard and api_surface compile the whole guardrail engine before their
# first execution (about five seconds under the sanitizer): a short run gets at least 30 s, or
# it would barely run at all.
slow_start() {
  [[ "$1" = request_extract || "$1" = response_guard || "$1" = api_surface ]]
}
export -f run_target slow_start
export seconds sanitizer
mkdir -p fuzz/artifacts
# As many targets at once as there are cores (each run is one process on one core), the long
# ones first; xargs exits non-zero when any run failed.
{
  for t in "${targets[@]}"; do if slow_start "$t"; then echo "$t"; fi; done
  for t in "${targets[@]}"; do if ! slow_start "$t"; then echo "$t"; fi; done
} | xargs -P "$(nproc)" -I{} bash -c 'run_target "$1"' _ {}
