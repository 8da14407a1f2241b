//! Chromium through chromedriver (Debian's `chromium` and `chromium-driver`), driven with
//! fantoccini; axe-core run in the page; screenshots saved.

use fantoccini::{Client, ClientBuilder, Locator};
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A chromedriver process, killed when dropped.
pub struct Driver {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Driver {
    /// Starts chromedriver and waits until it says it listens.
    pub fn start() -> Self {
        let port = free_port();
        let mut child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver is required for the console's browser tests: install Debian's \
                 chromium and chromium-driver (scripts/services does)",
            );
        let stdout = child.stdout.take().expect("piped stdout");
        let mut reader = BufReader::new(stdout);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader.read_line(&mut line).expect("chromedriver output");
            assert!(read > 0, "chromedriver exited before it listened");
            if line.contains("started successfully") {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
        }
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A new headless Chromium session that downloads into `downloads`.
    pub async fn browser(&self, downloads: &Path) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,1000", "--lang=en-US"],
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false
                }
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

/// What every page is checked with: axe-core's source.
pub fn axe_source() -> String {
    let path = license_e2e::workspace_root().join("tests/browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run `npm ci --prefix tests/browser` (scripts/test does)",
            path.display()
        )
    })
}

/// A browser on the console, with the checks every page gets.
pub struct Page {
    /// The WebDriver session.
    pub client: Client,
    /// The licensor's address.
    pub base: String,
    /// Where screenshots go.
    pub shots: PathBuf,
    axe: String,
}

impl Page {
    /// A page checker over `client`.
    pub fn new(client: Client, base: &str, shots: PathBuf, axe: String) -> Self {
        std::fs::create_dir_all(&shots).expect("the screenshot directory");
        Self {
            client,
            base: base.to_owned(),
            shots,
            axe,
        }
    }

    /// Opens `path` of the console.
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("opening {path}: {e}"));
    }

    /// The element at `css`.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => {
                let body = match self.client.find(Locator::Css("main")).await {
                    Ok(main) => main.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!(
                    "no element {css} on {}: {e}\npage:\n{body}",
                    self.url().await
                )
            }
        }
    }

    /// Whether an element matches `css`.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
            .is_empty()
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Types `text` into the input at `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        if input.attr("type").await.expect("attr").as_deref() == Some("date") {
            // A date picker takes keystrokes in the browser's locale: set the ISO value.
            self.client
                .execute(
                    "document.querySelector(arguments[0]).value = arguments[1]; return true;",
                    vec![css.into(), text.into()],
                )
                .await
                .expect("setting a date");
            return;
        }
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("type");
    }

    /// Clicks the element at `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Clicks the element at `css` that loads a new page (a form's button, a link), and waits
    /// until the new page has loaded.
    pub async fn submit(&self, css: &str) {
        self.client
            .execute(
                "document.documentElement.dataset.before = 'yes'; return true;",
                vec![],
            )
            .await
            .expect("marking the page");
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let loaded = self
                .client
                .execute(
                    "return document.readyState === 'complete' && \
                     document.documentElement.dataset.before !== 'yes';",
                    vec![],
                )
                .await
                .map(|v| v == serde_json::Value::Bool(true))
                .unwrap_or(false);
            if loaded {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "clicking {css} on {} loaded no new page",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The text of the element at `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// The current value of the input at `css`.
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// Runs axe-core in the page and fails on any serious or critical violation; saves a
    /// screenshot as `name.png`.
    pub async fn check(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("saving a screenshot");
        self.client
            .execute(&format!("{};\nreturn true;", self.axe), vec![])
            .await
            .expect("axe-core loads in the page");
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then((r) => done(
                   r.violations
                     .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                     .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
                 )).catch((e) => done([`axe failed: ${e}`]));",
                vec![],
            )
            .await
            .expect("axe-core runs");
        let violations: Vec<String> = serde_json::from_value(violations).expect("a list");
        assert!(
            violations.is_empty(),
            "{name} ({}): accessibility violations:\n{}",
            self.url().await,
            violations.join("\n")
        );
    }

    /// The session cookie, as a `Cookie` header value.
    pub async fn cookie(&self) -> String {
        let cookie = self
            .client
            .get_named_cookie("licensor_console")
            .await
            .expect("the session cookie");
        assert_eq!(
            cookie.http_only(),
            Some(true),
            "the session cookie is HttpOnly"
        );
        assert_eq!(
            cookie.same_site().map(|s| format!("{s:?}")).as_deref(),
            Some("Strict"),
            "the session cookie is SameSite=Strict"
        );
        format!("licensor_console={}", cookie.value())
    }

    /// The CSRF token of the page's forms.
    pub async fn csrf(&self) -> String {
        self.find("input[name=csrf]")
            .await
            .attr("value")
            .await
            .expect("attr")
            .expect("a CSRF token")
    }

    /// Signs in as `name`.
    pub async fn sign_in(&self, name: &str, password: &str) {
        self.open("/console/login").await;
        self.fill("#name", name).await;
        self.fill("#password", password).await;
        self.submit("button[type=submit]").await;
        assert!(
            self.url().await.ends_with("/console/dashboard"),
            "signing in as {name} did not reach the dashboard: {}",
            self.url().await
        );
    }

    /// Signs out.
    pub async fn sign_out(&self) {
        self.submit(".signout button").await;
        assert!(self.url().await.ends_with("/console/login"));
    }
}

/// Waits for `path` to exist and hold something (a download finishing).
pub fn wait_for_file(path: &Path) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(bytes) = std::fs::read(path)
            && !bytes.is_empty()
        {
            return bytes;
        }
        assert!(
            Instant::now() < deadline,
            "{} was not downloaded",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
