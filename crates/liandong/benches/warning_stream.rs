//! Delay from a warning's POST to its arrival at every open event stream, with 1,000 and
//! 10,000 streams (BENCH_STREAMS, comma-separated, to change): the server runs as its own
//! process (the release binary), and this process opens the streams over loopback, pushes
//! warnings one at a time and records when each stream receives each of them. The streams
//! are read straight from their sockets, as a load generator reads them, so that an HTTP
//! client library's own work per message, on the same two cores as the server, is not counted
//! as delay. The server's resident memory is read before and after the streams connect, per
//! stream.
//!
//! Side by side, the floor of the same job on the same machine: a second process that holds
//! the same number of sockets and does nothing but write each event, of the same size, to
//! every one of them from one thread per core, told to by a line on its standard input: no
//! HTTP, no database, no routing. Its delay is what loopback TCP alone costs here, which no
//! server can beat; the server's figure is printed as a ratio to it.
//!
//! Run: `cargo bench -p liandong --bench warning_stream`

use std::io::{BufRead, Read, Write};
use std::sync::{Arc, Mutex};
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

/// Set in the floor's own process, which this binary starts.
const FLOOR_ENV: &str = "LIANDONG_BENCH_FLOOR_WRITER";

/// The floor process: prints its port, answers every request with a stream head, then for
/// each line `ID` on its standard input writes one event naming that id to every socket,
/// split over one thread per core. It ends when its input closes.
fn floor_writer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("{}", listener.local_addr().expect("address").port());
    std::io::stdout().flush().expect("stdout");
    let sockets = Arc::new(Mutex::new(Vec::<std::net::TcpStream>::new()));
    let accepted = sockets.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut sock) = conn else { continue };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = sock.set_nodelay(true);
            if sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
                .is_ok()
            {
                accepted.lock().expect("sockets").push(sock);
            }
        }
    });
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for line in std::io::stdin().lock().lines() {
        let Ok(id) = line else { break };
        // The size of the server's event for the same warning.
        let event = format!(
            "event: warning\ndata: {{\"id\":{id},\"title\":\"灾害事故预警：城关镇\",\"url\":\"/warnings/{id}\",\"at_ms\":{}}}\n\n",
            chrono::Utc::now().timestamp_millis()
        );
        let mut all = sockets.lock().expect("sockets");
        let per_thread = all.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for part in all.chunks_mut(per_thread) {
                let event = event.as_bytes();
                s.spawn(move || {
                    for sock in part {
                        let _ = sock.write_all(event);
                    }
                });
            }
        });
    }
}

/// What pushes the warnings: the server through its API, or the floor process.
enum Pusher {
    Server {
        client: reqwest::Client,
        base: String,
        token: String,
        township: i64,
    },
    Floor(std::process::ChildStdin),
}

impl Pusher {
    /// Pushes warning `i` and answers its id; the delay is counted from just before.
    async fn push(&mut self, i: usize) -> i64 {
        match self {
            Pusher::Server {
                client,
                base,
                token,
                township,
            } => {
                let r: Value = client
                    .post(format!("{base}/api/v1/warnings"))
                    .bearer_auth(&token)
                    .json(&json!({"township_id": township, "risk_type": "disaster",
                        "summary": format!("测试预警 {i}"), "occurred_on": chrono::Utc::now().date_naive().to_string()}))
                    .send()
                    .await
                    .expect("push")
                    .json()
                    .await
                    .expect("json");
                r["id"].as_i64().expect("id")
            }
            Pusher::Floor(stdin) => {
                writeln!(stdin, "{i}").expect("floor input");
                stdin.flush().expect("floor input");
                i as i64
            }
        }
    }
}

struct Measured {
    delivered: usize,
    p50: f64,
    p99: f64,
    max: f64,
    kib_per_stream: f64,
    other_cpu_us: f64,
    own_cpu_us: f64,
}

/// Opens `n` streams to `port`, pushes the warnings and gathers each delivery's delay, and
/// the CPU time per delivery of the process at `pid` and of this one.
async fn measure(port: u16, token: &str, n: usize, pid: u32, pusher: &mut Pusher) -> Measured {
    let before = rss_kib(pid);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
    let ready = Arc::new(tokio::sync::Semaphore::new(0));
    let mut tasks = Vec::with_capacity(n);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    for _ in 0..n {
        tasks.push(tokio::spawn(read_stream(
            addr,
            token.to_owned(),
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
    let (other_cpu, own_cpu) = (cpu_ms(&pid.to_string()), cpu_ms("self"));
    for i in 0..WARNINGS {
        let t0 = Instant::now();
        let id = pusher.push(i).await;
        sent.insert(id, t0);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let other_cpu = cpu_ms(&pid.to_string()) - other_cpu;
    let own_cpu = cpu_ms("self") - own_cpu;
    let mut delays = Vec::with_capacity(n * WARNINGS);
    while let Ok((id, at)) = rx.try_recv() {
        if let Some(t0) = sent.get(&id) {
            delays.push(at.duration_since(*t0).as_secs_f64() * 1000.0);
        }
    }
    delays.sort_by(f64::total_cmp);
    for t in tasks {
        t.abort();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let deliveries = (n * WARNINGS) as f64;
    Measured {
        delivered: delays.len(),
        p50: percentile(&delays, 0.5),
        p99: percentile(&delays, 0.99),
        max: delays.last().copied().unwrap_or(f64::NAN),
        kib_per_stream: after.saturating_sub(before) as f64 / n as f64,
        other_cpu_us: other_cpu * 1000.0 / deliveries,
        own_cpu_us: own_cpu * 1000.0 / deliveries,
    }
}

fn main() {
    if std::env::var_os(FLOOR_ENV).is_some() {
        floor_writer();
        return;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}

async fn bench() {
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
    let mut to_server = Pusher::Server {
        client: client.clone(),
        base: base.clone(),
        token: pusher,
        township,
    };

    for n in counts {
        let target = if n <= 1000 { 10.0 } else { 100.0 };
        let m = measure(port, &office, n, pid, &mut to_server).await;
        println!(
            "{n} streams, server: {} of {} deliveries; delay p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 < {target} ms, {:.1}x margin); server memory {:.1} KiB per stream; CPU per delivery: server {:.1} µs, these readers {:.1} µs",
            m.delivered,
            n * WARNINGS,
            m.p50,
            m.p99,
            m.max,
            target / m.p99,
            m.kib_per_stream,
            m.other_cpu_us,
            m.own_cpu_us
        );

        let mut child = Server(
            std::process::Command::new(std::env::current_exe().expect("this binary"))
                .env(FLOOR_ENV, "1")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("start the floor process"),
        );
        let mut first = String::new();
        std::io::BufReader::new(child.0.stdout.take().expect("floor output"))
            .read_line(&mut first)
            .expect("floor port");
        let floor_port: u16 = first.trim().parse().expect("floor port");
        let mut to_floor = Pusher::Floor(child.0.stdin.take().expect("floor input"));
        let f = measure(floor_port, &office, n, child.0.id(), &mut to_floor).await;
        println!(
            "{n} streams, floor (a process that only writes the same events to the same sockets): {} of {} deliveries; delay p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (the target is {:.2}x its p99); CPU per delivery: writer {:.1} µs, these readers {:.1} µs",
            f.delivered,
            n * WARNINGS,
            f.p50,
            f.p99,
            f.max,
            target / f.p99,
            f.other_cpu_us,
            f.own_cpu_us
        );
        println!(
            "{n} streams: the server's p99 is {:.2}x the floor's in this run",
            m.p99 / f.p99
        );
        drop(to_floor);
    }
}
