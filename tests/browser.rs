//! The report in a real browser: headless Chromium renders report.html of a tiny pipeline; every
//! figure must have a size and draw something, no image may be broken, the page may log no error,
//! and the screenshot must show content (far larger than a blank page's). CI installs Chromium and sets LRCAST_REQUIRE_BROWSER=1.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{TINY_RECIPE, lrcast, stderr, write};

/// Runs after the page has loaded: what a reader would see broken, as JSON in a body attribute
/// that `--dump-dom` prints. Injected into a copy; the report itself carries no script.
const CHECKER: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(
  e.message || ('failed to load ' + ((e.target && (e.target.src || e.target.href)) || e.type))), true);
const originalError = console.error;
console.error = (...a) => { window.__errors.push(a.join(' ')); originalError(...a); };
window.addEventListener('load', () => {
  const problems = [];
  Array.from(document.images).forEach((img, i) => {
    if (!img.complete || img.naturalWidth === 0)
      problems.push('broken image ' + i + ': ' + (img.getAttribute('src') || '').slice(0, 80));
  });
  const figures = Array.from(document.querySelectorAll('svg'))
    .filter(svg => !svg.parentElement.closest('svg'));
  figures.forEach((svg, i) => {
    const box = svg.getBoundingClientRect();
    const drawn = svg.querySelectorAll('path,polyline,polygon,line,rect,circle,text').length;
    if (box.width < 50 || box.height < 50)
      problems.push('figure ' + i + ' is ' + box.width + 'x' + box.height + ' px');
    if (drawn < 5) problems.push('figure ' + i + ' draws ' + drawn + ' elements');
  });
  document.body.setAttribute('data-lrcast-check', JSON.stringify(
    {figures: figures.length, images: document.images.length, problems, errors: window.__errors}));
});
</script>"#;

/// The Chromium binary: $LRCAST_CHROMIUM, else the first of Debian's and Google's names on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LRCAST_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|p| p.is_file())
}

/// Headless Chromium with a private profile; root needs --no-sandbox.
fn headless(binary: &Path, profile: &Path) -> Command {
    let mut command = Command::new(binary);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

#[test]
fn report_renders_in_a_real_browser_without_errors() {
    let Some(binary) = chromium() else {
        assert!(
            std::env::var("LRCAST_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "LRCAST_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium to run this check)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let out = lrcast(dir.path(), &["pipeline", recipe.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "pipeline: {}", stderr(&out));
    let report = dir.path().join("reports/tiny/report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(!html.contains("<script"), "the report needs no JavaScript");

    // The checked copy lies beside the report, so relative links resolve as they do for a reader.
    let body = html.find("<body").expect("report has a <body>");
    let body_end = body + html[body..].find('>').unwrap() + 1;
    let checked = report.with_file_name("checked.html");
    std::fs::write(
        &checked,
        format!("{}{CHECKER}{}", &html[..body_end], &html[body_end..]),
    )
    .unwrap();
    let profile = dir.path().join("chromium-profile");
    let dom = headless(&binary, &profile)
        .arg("--dump-dom")
        .arg(file_url(&checked))
        .output()
        .expect("run chromium");
    assert!(
        dom.status.success(),
        "chromium --dump-dom: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let start = dom_text.find("data-lrcast-check=\"").unwrap_or_else(|| {
        panic!(
            "the checker did not run; chromium said:\n{}",
            String::from_utf8_lossy(&dom.stderr)
        )
    }) + "data-lrcast-check=\"".len();
    let end = start + dom_text[start..].find('"').unwrap();
    let json = dom_text[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let check: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        check["problems"].as_array().unwrap().is_empty()
            && check["errors"].as_array().unwrap().is_empty(),
        "{check:#}"
    );
    assert!(check["figures"].as_u64().unwrap() >= 2, "{check}");

    // The report as a reader opens it: no console message, and a screenshot with content.
    let shot = dir.path().join("report.png");
    let out = headless(&binary, &profile)
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,2400")
        .arg(file_url(&report))
        .output()
        .expect("run chromium");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium --screenshot: {log}");
    for line in log.lines() {
        assert!(
            !line.contains(":CONSOLE") && !line.contains("Uncaught") && !line.contains("net::ERR_"),
            "the page logged: {line}"
        );
    }
    // A blank page's screenshot of the same size compresses to a few KiB; a page of figures and
    // tables to far more (PNG size stands in for decoding it, so the test needs no image crate —
    // a dev-dependency here would change shared crates' features and split the README's one build).
    let blank_page = dir.path().join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank_shot = dir.path().join("blank.png");
    let out = headless(&binary, &profile)
        .arg(format!("--screenshot={}", blank_shot.display()))
        .arg("--window-size=1280,2400")
        .arg(file_url(&blank_page))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium --screenshot of a blank page"
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(
        size(&shot) > 4 * size(&blank_shot),
        "screenshot looks empty: {} bytes against {} for a blank page",
        size(&shot),
        size(&blank_shot)
    );
}
