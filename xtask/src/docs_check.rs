//! The docs page's assets: `cargo xtask ci` checks the committed Swagger UI files against
//! pinned hashes, and `cargo xtask docs-check` renders `/docs` in headless Chromium (installed
//! with apt when missing and permitted) with every host but the server unresolvable, then checks
//! that the page lists every path of `/openapi.json`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::server::{Client, build_server, start_server, stop_server};
use crate::{process, services};

/// `crates/kato-server/assets/swagger-ui/` (from `swagger-ui-dist@5.35.0`) and the SHA-256 of
/// each file kato-server serves from it.
const ASSETS: &[(&str, &str)] = &[
    (
        "swagger-ui-bundle.js",
        "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2",
    ),
    (
        "swagger-ui.css",
        "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d",
    ),
];

/// Fails when a served asset is not the pinned file.
pub(crate) fn check_assets() -> Result<()> {
    let dir = crate::workspace_root().join("crates/kato-server/assets/swagger-ui");
    for (file, expected) in ASSETS {
        let actual = crate::chdb::sha256_of(&dir.join(file))?;
        if actual != *expected {
            bail!("{file} has sha256 {actual}, expected {expected} (assets/swagger-ui/README.md)");
        }
    }
    Ok(())
}

pub(crate) fn run() -> Result<i32> {
    check_assets()?;
    let chromium = services::program_or_package("chromium", "chromium", "to render the page")?;
    services::with_throwaway("docs-check", |urls| {
        build_server()?;
        let port = process::free_port()?;
        let mut server =
            start_server(&urls.clickhouse, &urls.redis, "kato_docs_check", port, None)?;
        let checked = render(&chromium, port);
        stop_server(&mut server);
        checked
    })
}

fn render(chromium: &Path, port: u16) -> Result<i32> {
    let base = format!("http://127.0.0.1:{port}");
    let document = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(Client::new(&base)?.get("/openapi.json"))?;
    let paths: Vec<&String> = document["paths"]
        .as_object()
        .context("/openapi.json has no paths")?
        .keys()
        .collect();
    eprintln!(
        "docs-check: rendering {base}/docs in {}",
        chromium.display()
    );
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            // Every host but the server fails to resolve: the page must need nothing else.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            &format!("{base}/docs"),
        ])
        .output()
        .context("running chromium")?;
    if !output.status.success() {
        bail!(
            "chromium failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let dom = String::from_utf8_lossy(&output.stdout);
    let missing: Vec<&&String> = paths
        .iter()
        .filter(|path| !dom.contains(&format!("data-path=\"{path}\"")))
        .collect();
    if !missing.is_empty() {
        bail!(
            "/docs rendered without {} of the {} paths of /openapi.json: {missing:?}",
            missing.len(),
            paths.len()
        );
    }
    eprintln!(
        "docs-check: /docs lists all {} paths of /openapi.json with no network beyond the server",
        paths.len()
    );
    Ok(0)
}
