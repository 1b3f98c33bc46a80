//! Delay from a warning's POST to its arrival at every open event stream, with 1,000 and
//! 10,000 streams (BENCH_STREAMS, comma-separated, to change): the server runs as its own
//! process (the release binary), and this process opens the streams over loopback, pushes
//! warnings one at a time and records when each stream receives each of them. The streams
//! are read straight from their sockets, as a load generator reads them, so that an HTTP
//! client library's own work per message, on the same two cores as the server, is not counted
//! as delay. The server's resident memory is read before and after the streams connect, per
//! stream.
//!
//! Run: `cargo bench -p liandong --bench warning_stream`

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const PASSWORD: &str = "Demo#County-2023";
const WARNINGS: usize = 10;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU time (user and system) a process has used so far, in milliseconds.
fn cpu_ms(pid: &str) -> f64 {
    let ticks_per_s = 100.0; // USER_HZ, 100 on Linux
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let user: f64 = f.get(11)?.parse().ok()?;
            let system: f64 = f.get(12)?.parse().ok()?;
            Some((user + system) * 1000.0 / ticks_per_s)
        })
        .unwrap_or(f64::NAN)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Opens one event stream over a plain socket and reports, for every read, the ids of the
/// warnings in it with the moment it returned. `ready` gets a permit once the answer's head
/// has arrived (or the stream failed).
async fn read_stream(
    addr: std::net::SocketAddr,
    token: String,
    tx: tokio::sync::mpsc::UnboundedSender<(i64, Instant)>,
    ready: Arc<tokio::sync::Semaphore>,
) {
    let mut signalled = false;
    let signal = |signalled: &mut bool| {
        if !*signalled {
            ready.add_permits(1);
            *signalled = true;
        }
    };
    let Ok(sock) = tokio::net::TcpStream::connect(addr).await else {
        signal(&mut signalled);
        return;
    };
    let request = format!(
        "GET /api/v1/warnings/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    let mut sent = 0;
    while sent < request.len() {
        if sock.writable().await.is_err() {
            signal(&mut signalled);
            return;
        }
        match sock.try_write(&request.as_bytes()[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                signal(&mut signalled);
                return;
            }
        }
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        if sock.readable().await.is_err() {
            break;
        }
        let n = match sock.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        };
        let at = Instant::now();
        if !signalled {
            assert!(
                buf.starts_with(b"HTTP/1.1 200"),
                "the event stream was refused: {}",
                String::from_utf8_lossy(&buf[..n.min(200)])
            );
        }
        signal(&mut signalled);
        pending.extend_from_slice(&buf[..n]);
        // Only whole lines are read; a line cut by the read waits for the rest.
        let Some(end) = pending.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        for line in pending[..end].split(|&b| b == b'\n') {
            let Some(data) = line.strip_prefix(b"data: ") else {
                continue;
            };
            let Some(at_id) = data.windows(5).position(|w| w == b"\"id\":") else {
                continue;
            };
            let digits: Vec<u8> = data[at_id + 5..]
                .iter()
                .copied()
                .take_while(u8::is_ascii_digit)
                .collect();
            if let Some(id) = std::str::from_utf8(&digits)
                .ok()
                .and_then(|d| d.parse().ok())
            {
                let _ = tx.send((id, at));
            }
        }
        pending.drain(..=end);
    }
    signal(&mut signalled);
}

struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let counts: Vec<usize> = std::env::var("BENCH_STREAMS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let server = Server(
        std::process::Command::new(env!("CARGO_BIN_EXE_liandong"))
            .args(["serve", "--demo"])
            .env("LIANDONG_ADDR", format!("127.0.0.1:{port}"))
            .env("LIANDONG_DATA_DIR", dir.path())
            .env("LIANDONG_ADMIN_PASSWORD", "Bench#Stream-2023x")
            .env("LIANDONG_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the server"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    for _ in 0..600 {
        if client
            .get(format!("{base}/api/v1/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = |user: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let r: Value = client
                .post(format!("{base}/api/v1/session"))
                .json(&json!({"username": user, "password": PASSWORD}))
                .send()
                .await
                .expect("sign in")
                .json()
                .await
                .expect("json");
            r["token"].as_str().expect("token").to_owned()
        }
    };
    let office = token("office").await;
    let pusher = token("dept-emergency").await;
    let towns: Value = client
        .get(format!("{base}/api/v1/townships"))
        .bearer_auth(&office)
        .send()
        .await
        .expect("townships")
        .json()
        .await
        .expect("json");
    let township = towns[0]["id"].as_i64().expect("township");
    let pid = server.0.id();
    println!(
        "server pid {pid}, {} KiB resident after start",
        rss_kib(pid)
    );

    for n in counts {
        let before = rss_kib(pid);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
        let ready = Arc::new(tokio::sync::Semaphore::new(0));
        let mut tasks = Vec::with_capacity(n);
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        for _ in 0..n {
            tasks.push(tokio::spawn(read_stream(
                addr,
                office.clone(),
                tx.clone(),
                ready.clone(),
            )));
            // Connect in waves so the listen backlog never overflows.
            if tasks.len() % 500 == 0 {
                let _ = ready.acquire_many(500).await.map(|p| p.forget());
            }
        }
        let left = (tasks.len() % 500) as u32;
        let _ = ready.acquire_many(left).await.map(|p| p.forget());
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib(pid);
        let mut sent = std::collections::HashMap::new();
        let (server_cpu, own_cpu) = (cpu_ms(&pid.to_string()), cpu_ms("self"));
        for i in 0..WARNINGS {
            let t0 = Instant::now();
            let r: Value = client
                .post(format!("{base}/api/v1/warnings"))
                .bearer_auth(&pusher)
                .json(&json!({"township_id": township, "risk_type": "disaster",
                    "summary": format!("测试预警 {i}"), "occurred_on": chrono::Utc::now().date_naive().to_string()}))
                .send()
                .await
                .expect("push")
                .json()
                .await
                .expect("json");
            sent.insert(r["id"].as_i64().expect("id"), t0);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let server_cpu = cpu_ms(&pid.to_string()) - server_cpu;
        let own_cpu = cpu_ms("self") - own_cpu;
        let mut delays = Vec::with_capacity(n * WARNINGS);
        while let Ok((id, at)) = rx.try_recv() {
            if let Some(t0) = sent.get(&id) {
                delays.push(at.duration_since(*t0).as_secs_f64() * 1000.0);
            }
        }
        delays.sort_by(f64::total_cmp);
        let target = if n <= 1000 { 10.0 } else { 100.0 };
        let p99 = percentile(&delays, 0.99);
        println!(
            "{n} streams: {} of {} deliveries; delay p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 < {target} ms, {:.1}x margin); server memory {:.1} KiB per stream; CPU per delivery: server {:.1} µs, these readers {:.1} µs",
            delays.len(),
            n * WARNINGS,
            percentile(&delays, 0.5),
            p99,
            delays.last().copied().unwrap_or(f64::NAN),
            target / p99,
            after.saturating_sub(before) as f64 / n as f64,
            server_cpu * 1000.0 / (n * WARNINGS) as f64,
            own_cpu * 1000.0 / (n * WARNINGS) as f64
        );
        for t in tasks {
            t.abort();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
