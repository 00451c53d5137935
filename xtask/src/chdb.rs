//! The ClickHouse engine shipped as the npm package `@chdb/lib-linux-x64-gnu`: fetched with
//! `npm pack`, checked against a pinned sha256, unpacked into a cache, and served from a child
//! process of xtask that loads `libchdb.so` and runs clickhouse-local with its HTTP interface on.

use std::ffi::{CString, c_char, c_int};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};

const PACKAGE: &str = "@chdb/lib-linux-x64-gnu";
const VERSION: &str = "26.7.3-stable.1";
const TARBALL: &str = "chdb-lib-linux-x64-gnu-26.7.3-stable.1.tgz";
const TARBALL_SHA256: &str = "c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad";

/// Where fetched engines live: `KATO_CACHE_DIR`, else `$XDG_CACHE_HOME/kato`, else `~/.cache/kato`.
fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("KATO_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("kato"));
    }
    let home = std::env::var_os("HOME").context("neither KATO_CACHE_DIR nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache").join("kato"))
}

/// Path of a verified `libchdb.so`, fetching and unpacking the package on first use.
pub(crate) fn library_path() -> Result<PathBuf> {
    let root = cache_dir()?.join(format!("chdb-{VERSION}"));
    let library = root.join("package").join("libchdb.so");
    let verified_marker = root.join("verified-sha256");
    // The tarball was hashed when it was unpacked; the marker records that, so a warm start
    // does not re-hash 180 MB.
    if library.is_file()
        && std::fs::read_to_string(&verified_marker).is_ok_and(|s| s.trim() == TARBALL_SHA256)
    {
        return Ok(library);
    }
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let tarball = root.join(TARBALL);
    if !tarball.is_file() {
        fetch(&root)?;
    }
    let actual = sha256_of(&tarball)?;
    if actual != TARBALL_SHA256 {
        std::fs::remove_file(&tarball).ok();
        bail!(
            "{} has sha256 {actual}, expected {TARBALL_SHA256}; removed it, run again to re-fetch",
            tarball.display()
        );
    }
    unpack(&tarball, &root)?;
    ensure!(
        library.is_file(),
        "{} is missing from {TARBALL}",
        library.display()
    );
    std::fs::write(&verified_marker, TARBALL_SHA256)?;
    Ok(library)
}

fn fetch(into: &Path) -> Result<()> {
    let spec = format!("{PACKAGE}@{VERSION}");
    eprintln!("fetching the ClickHouse engine {spec} with npm (about 180 MB, once) ...");
    let status = Command::new("npm")
        .args(["pack", &spec, "--silent"])
        .current_dir(into)
        .stdout(std::process::Stdio::null())
        .status();
    match status {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "npm is not installed; it is needed to fetch the ClickHouse engine {spec}. \
             Install Node.js with npm (Debian: apt-get install npm), or put a `clickhouse` \
             binary on PATH, or set KATO_CLICKHOUSE_URL to an existing server"
        ),
        Err(e) => Err(e).context("running npm pack"),
        Ok(s) if !s.success() => bail!("npm pack {spec} failed with {s}"),
        Ok(_) => Ok(()),
    }
}

pub(crate) fn sha256_of(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut file, &mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Unpacks into a scratch directory and renames it into place, so a concurrent or interrupted
/// run never sees half a library.
fn unpack(tarball: &Path, root: &Path) -> Result<()> {
    let scratch = root.join(format!("unpack-{}", std::process::id()));
    std::fs::remove_dir_all(&scratch).ok();
    std::fs::create_dir_all(&scratch)?;
    let status = Command::new("tar")
        .arg("xzf")
        .arg(tarball)
        .arg("-C")
        .arg(&scratch)
        .status()
        .context("running tar")?;
    ensure!(
        status.success(),
        "tar xzf {} failed with {status}",
        tarball.display()
    );
    let target = root.join("package");
    std::fs::remove_dir_all(&target).ok();
    std::fs::rename(scratch.join("package"), &target)?;
    std::fs::remove_dir_all(&scratch).ok();
    Ok(())
}

/// Runs inside the child process started by [`crate::services::clickhouse`]: loads the engine
/// and serves HTTP on 127.0.0.1:`http_port` for `seconds`, with data under `data_dir`.
/// Returns when the serving query ends (time is up or the process is told to stop).
pub(crate) fn serve(library: &Path, data_dir: &Path, http_port: u16, seconds: u64) -> Result<()> {
    let args = [
        "clickhouse".to_owned(),
        format!("--path={}", data_dir.display()),
        format!("--http_port={http_port}"),
        "--listen_host=127.0.0.1".to_owned(),
        format!(
            "--query=SYSTEM START LISTEN HTTP; SELECT sleepEachRow(1) FROM numbers({seconds}) \
             SETTINGS max_block_size=1 FORMAT Null"
        ),
    ];
    let args: Vec<CString> = args
        .into_iter()
        .map(CString::new)
        .collect::<Result<_, _>>()?;
    let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    let argc = c_int::try_from(argv.len())?;

    #[allow(unsafe_code)]
    // SAFETY: libchdb.so exports `chdb_query_cmdline(int, char**)`, returning a pointer to a
    // result we never read; argv points into `args`, which outlives the call.
    unsafe {
        let engine = libloading::Library::new(library)
            .with_context(|| format!("loading {}", library.display()))?;
        let query_cmdline: libloading::Symbol<
            '_,
            unsafe extern "C" fn(c_int, *mut *mut c_char) -> *mut std::ffi::c_void,
        > = engine.get(b"chdb_query_cmdline\0")?;
        let result = query_cmdline(argc, argv.as_mut_ptr());
        ensure!(!result.is_null(), "chdb_query_cmdline returned no result");
        // The engine keeps global state and background threads; unloading it under them is
        // unsound, so the library stays mapped until the process exits.
        std::mem::forget(engine);
    }
    Ok(())
}
