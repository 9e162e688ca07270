//! `warden-distill embed --model DIR [--max-tokens N]`: the whole transformer's sentence
//! embedding (mean-pooled over the tokens, unit length — as sentence-transformers pools
//! all-MiniLM-L6-v2) of each JSON line's `"text"` on stdin, one `[f32, …]` line each on stdout.
//! For measuring what a transformer pass would add as the injection classifier's accurate tier
//! (`models/probe_embedding.py --transformer`); the last line on stderr is the time per text.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use candle_core::{DType, Device, Tensor, D};
use candle_transformers::models::bert::Config;
use tokenizers::{Tokenizer, TruncationParams};

pub fn run(model_dir: &Path, max_tokens: usize) -> Result<()> {
    let device = Device::Cpu;
    let config: Config = serde_json::from_slice(
        &std::fs::read(model_dir.join("config.json")).context("config.json")?,
    )?;
    let mut tokenizer = Tokenizer::from_file(model_dir.join("tokenizer.json"))
        .map_err(|e| anyhow!("tokenizer.json: {e}"))?;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..Default::default()
        }))
        .map_err(|e| anyhow!("truncation: {e}"))?;
    tokenizer.with_padding(None);
    let model = super::load_bert(model_dir, &config, &device)?;
    let (mut texts, mut spent) = (0u64, 0u128);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)?;
        let text = v["text"]
            .as_str()
            .ok_or_else(|| anyhow!("a line without a \"text\" string"))?;
        let started = Instant::now();
        let encoding = tokenizer
            .encode(text, true)
            .map_err(|e| anyhow!("tokenising: {e}"))?;
        let ids = Tensor::new(encoding.get_ids(), &device)?.unsqueeze(0)?;
        let types = ids.zeros_like()?;
        let mask = ids.ones_like()?;
        let hidden = model.forward(&ids, &types, Some(&mask))?; // (1, n, dim)
        let pooled = hidden.mean(1)?.squeeze(0)?;
        let norm = pooled.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        let unit: Vec<f32> = pooled
            .broadcast_div(&norm)?
            .to_dtype(DType::F32)?
            .to_vec1()?;
        spent += started.elapsed().as_nanos();
        texts += 1;
        writeln!(out, "{}", serde_json::to_string(&unit)?)?;
    }
    out.flush()?;
    eprintln!(
        "{{\"texts\": {texts}, \"ms_per_text\": {:.2}, \"max_tokens\": {max_tokens}}}",
        spent as f64 / 1e6 / texts.max(1) as f64
    );
    Ok(())
}
