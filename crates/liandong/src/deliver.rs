//! `liandong deliver`: a department's data set sent from a script to a running server, as the
//! upload page sends it (数据报送): checked whole there, entered in the feed ledger, or
//! refused with file, row and column named.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// The server's address, e.g. http://10.1.2.3:8080.
    #[arg(long, env = "LIANDONG_SERVER")]
    pub server: String,
    /// The data kind (medical_expense, school_enrollment…).
    #[arg(long)]
    pub kind: String,
    /// The month whose deadline this answers (2024-04); by default the current one.
    #[arg(long)]
    pub due_month: Option<String>,
    /// The .csv or .xlsx files of the delivery (a year of claims in twelve files, say).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Where the API token is read from: an environment variable, never an argument, which
/// anyone on the machine could read in the process list.
pub const TOKEN_VAR: &str = "LIANDONG_TOKEN";

pub async fn run(args: DeliverArgs) -> anyhow::Result<()> {
    let token = std::env::var(TOKEN_VAR)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .with_context(|| format!("请在环境变量 {TOKEN_VAR} 中提供报送单位用户的 API 令牌"))?;
    let mut form = reqwest::multipart::Form::new();
    for path in &args.files {
        let bytes = std::fs::read(path).with_context(|| format!("无法读取 {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
    }
    // Relative to the address given, so that a server behind a path prefix is reached too.
    let base = format!("{}/", args.server.trim_end_matches('/'));
    let mut url = reqwest::Url::parse(&base)
        .and_then(|u| u.join("api/v1/compare/feeds"))
        .with_context(|| format!("服务器地址“{}”无效", args.server))?;
    url.query_pairs_mut().append_pair("kind", &args.kind);
    if let Some(m) = &args.due_month {
        url.query_pairs_mut().append_pair("due_month", m);
    }
    let res = reqwest::Client::new()
        .post(url)
        .bearer_auth(token.trim())
        .multipart(form)
        .send()
        .await
        .with_context(|| format!("无法连接服务器 {}", args.server))?;
    let status = res.status();
    let body: serde_json::Value = res
        .json()
        .await
        .with_context(|| format!("服务器的回答无法读取（{status}）"))?;
    if !status.is_success() {
        let e = &body["error"];
        let mut message = e["message"].as_str().unwrap_or("未知错误").to_owned();
        for d in e["details"].as_array().into_iter().flatten() {
            message.push('\n');
            message.push_str(d.as_str().unwrap_or_default());
        }
        bail!("报送未成功（{}）：{message}", status.as_u16());
    }
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    if body["duplicate"] == true {
        println!("这些文件此前已报送，本次未重复写入。");
    } else {
        println!(
            "已报送：{}，{} 行，计入 {} 的报送",
            text("kind_label"),
            body["rows"],
            text("due_month")
        );
    }
    println!("{}", text("report"));
    Ok(())
}
