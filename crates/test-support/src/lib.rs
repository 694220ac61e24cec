//! Test support: an empty moto server (the local AWS) on a free loopback port for each test, SDK clients pointed
//! at it, and helpers that create what a test needs (EKS clusters, log groups) the way a user's account has them.
//!
//! moto is installed by `scripts/install-moto.sh` into `.venv-moto/`; `EKSAUDIT_MOTO_SERVER` may name another
//! `moto_server` executable. No test here talks to real AWS: every client is built with static test credentials
//! and the loopback endpoint.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use eksaudit_aws::{Aws, RegionClients};

mod cbor;
mod recorder;
pub use recorder::{classify, Call, EksOutcome, EksUpdateScript, Fault, Recorder, Request};

/// The account moto answers for.
pub const MOTO_ACCOUNT: &str = "123456789012";

/// A running moto server, stopped when dropped, behind a recording proxy. The product is pointed at the proxy
/// ([`Moto::endpoint`]), which counts its calls and smooths moto's differences from AWS; test setup talks to
/// moto directly ([`Moto::aws`]) so it is not counted.
pub struct Moto {
    server: Option<Server>,
    port: u16,
    recorder: Recorder,
    /// The one HTTP client of this moto's setup clients. Each SDK client would otherwise build its own, and each
    /// of those parses the system's root certificates again: in a debug build, a large part of the test
    /// process's time.
    http: aws_smithy_runtime_api::client::http::SharedHttpClient,
}

/// One moto process. Started through [`WATCHER`] when the venv's Python is at hand, it ends when the test process
/// closes its standard input (at exit, even a killed one), so a pooled server never outlives the tests.
struct Server {
    child: Child,
    port: u16,
    /// Held open while the server may be used: its end is the server's end.
    stdin: Option<ChildStdin>,
}

/// moto servers whose tests have ended, reset and waiting for the next test. A fresh moto spends about 2.5 s of
/// CPU loading its service backends on their first calls and a reset one about 0.1 s; over the suite's few hundred
/// servers (the crash matrix starts one per k) that was most of CI's time on two cores.
static IDLE: Mutex<Vec<Server>> = Mutex::new(Vec::new());

/// At most this many idle servers are kept (about as many as tests run at once); more are stopped.
const MAX_IDLE: usize = 6;

/// Runs moto's server with a thread that ends the process when standard input closes.
///
/// It also takes out work moto's server does on every request that changes no answer. The suite is CPU-bound
/// on moto, and these were over a third of moto's time in the crash matrices (measured with py-spy on moto
/// 5.1.22):
/// - werkzeug's access log line, written to a null stderr;
/// - the listing of moto's package directory, which the dispatcher does to route each request (the same
///   every time);
/// - botocore's partitions file, parsed again on each EKS CreateCluster (test setup) to check a role ARN's
///   partition;
/// - EC2's default AMIs, loaded whenever an EC2 backend is made: on every reset, and by the Resource Groups
///   Tagging API, which walks EC2. eksaudit calls no EC2 API. `MOTO_EC2_LOAD_DEFAULT_AMIS` is moto's own
///   setting for this;
/// - a new 2,048-bit RSA key for every KMS key, for Sign and Verify, which AWS refuses on the symmetric keys
///   eksaudit makes. Those keys now share one RSA key;
/// - a new RSA key for every SNS subscription, to sign its messages, which no test verifies. The subscriptions
///   now share one RSA key too.
const WATCHER: &str = "import os, sys, threading, logging\n\
def watch():\n    sys.stdin.buffer.read()\n    os._exit(0)\n\
threading.Thread(target=watch, daemon=True).start()\n\
os.environ['MOTO_EC2_LOAD_DEFAULT_AMIS'] = 'false'\n\
logging.getLogger('werkzeug').setLevel(logging.WARNING)\n\
import moto.backends\n\
_modules = tuple(moto.backends.list_of_moto_modules())\n\
moto.backends.list_of_moto_modules = lambda: _modules\n\
import moto.eks.utils\n\
_partitions = moto.eks.utils.Session().get_available_partitions()\n\
class _Partitions:\n    def get_available_partitions(self):\n        return list(_partitions)\n\
moto.eks.utils.Session = _Partitions\n\
import functools, moto.kms.models, moto.sns.models\n\
_kms_key = moto.kms.models.generate_private_key\n\
_shared_kms_key = functools.lru_cache(maxsize=None)(lambda: _kms_key('SYMMETRIC_DEFAULT'))\n\
moto.kms.models.generate_private_key = lambda spec: _shared_kms_key() if spec == 'SYMMETRIC_DEFAULT' else _kms_key(spec)\n\
_sns_key = functools.lru_cache(maxsize=None)(moto.sns.models.rsa.generate_private_key)\n\
moto.sns.models.Subscription.private_key = lambda self: _sns_key(public_exponent=65537, key_size=2048)\n\
from moto.server import main\n\
main(sys.argv[1:])\n";

fn moto_server_path() -> PathBuf {
    if let Some(p) = std::env::var_os("EKSAUDIT_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = root.join(".venv-moto/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    panic!("moto_server not found at {}: run scripts/install-moto.sh (or set EKSAUDIT_MOTO_SERVER)", venv.display());
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local addr").port()
}

impl Moto {
    /// A moto on a free loopback port with nothing in it: a reset server of an ended test when one is idle,
    /// else a new one, started and answering.
    pub fn start() -> Moto {
        let server = Self::idle().unwrap_or_else(Self::spawn);
        let port = server.port;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        Moto { server: Some(server), port, recorder: Recorder::start(port), http }
    }

    fn idle() -> Option<Server> {
        let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(mut server) = idle.pop() {
            if matches!(server.child.try_wait(), Ok(None)) {
                return Some(server);
            }
        }
        None
    }

    fn spawn() -> Server {
        let server = moto_server_path();
        // The venv's Python beside `moto_server` runs it under the watcher; another executable runs as it is.
        let python = server.with_file_name("python");
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let args = ["-H".to_string(), "127.0.0.1".into(), "-p".into(), port.to_string()];
            let mut command = if python.exists() {
                let mut c = Command::new(&python);
                c.args(["-c", WATCHER]).args(&args).stdin(Stdio::piped());
                c
            } else {
                let mut c = Command::new(&server);
                c.args(&args).stdin(Stdio::null());
                c
            };
            let mut child = command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
            let stdin = child.stdin.take();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!("moto_server exited with {status} (port {port} taken?)");
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Server { child, port, stdin };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            if last_err.is_empty() {
                last_err = "moto_server did not listen within 30 s".into();
            }
        }
        panic!("{last_err}");
    }

    /// Where the product under test sends its calls: the recording proxy.
    pub fn endpoint(&self) -> String {
        self.recorder.endpoint()
    }

    /// moto itself, for setup that must not be counted.
    pub fn direct_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The calls the product made through [`Moto::endpoint`].
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The environment a child `eksaudit` process needs to reach this moto and nothing else.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        test_env()
    }

    /// The product's own client set, pointed at moto directly (for setup and assertions; not recorded).
    pub fn aws(&self) -> Aws {
        Aws::from_config(self.sdk_config("us-east-1"), true)
    }

    /// SDK configuration for moto directly (static test credentials), for clients the product has no use for.
    pub fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(self.direct_endpoint())
            .http_client(self.http.clone())
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::for_tests(),
            ))
            .build()
    }

    /// SDK configuration for the proxy (what the product reaches), for tests of the proxy's own emulation.
    pub fn proxy_config(&self, region: &str) -> aws_config::SdkConfig {
        self.sdk_config(region).into_builder().endpoint_url(self.endpoint()).build()
    }

    /// A CloudWatch client for setup (PutMetricData: the metrics AWS would publish), through the proxy, which
    /// translates the SDK's RPC v2 CBOR into the JSON protocol moto speaks. Reset the recorder after using it.
    pub fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        let config = self.sdk_config(region).into_builder().endpoint_url(self.endpoint()).build();
        aws_sdk_cloudwatch::Client::new(&config)
    }

    /// Runs a stream's Lambda processor on what moto delivered, as Firehose would have (see
    /// `firehose_processor.py`): moto's Firehose runs no processors, so this emulates AWS. The code run is the
    /// function's own, as the product uploaded it (kept by the recorder); the stream's configuration is read from
    /// moto. Returns the keys written (transformed objects, and failed records under the error prefix).
    pub fn run_firehose_processors(&self, region: &str, stream: &str, function: &str) -> Vec<String> {
        let code = self
            .recorder
            .function_code(region, function)
            .unwrap_or_else(|| panic!("no code was uploaded for Lambda function {function} in {region}"));
        let dir = std::env::temp_dir().join(format!("eksaudit-processor-{}-{}", std::process::id(), self.port));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let code_file = dir.join("code.b64");
        std::fs::write(&code_file, code).expect("write the code");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/firehose_processor.py");
        let out = Command::new(root.join(".venv-moto/bin/python"))
            .arg(script)
            .args([&self.direct_endpoint(), region, stream])
            .arg(&code_file)
            .env_remove("AWS_PROFILE")
            .envs(test_env().into_iter().filter(|(k, _)| *k != "AWS_REGION"))
            .output()
            .expect("run .venv-moto's python");
        std::fs::remove_dir_all(&dir).ok();
        assert!(
            out.status.success(),
            "the Firehose processor emulation failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or("[]");
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not the keys written ({e}): {stdout}"))
    }

    pub fn region(&self, region: &str) -> RegionClients {
        self.aws().region(region)
    }

    /// A queue's attributes as SQS answers GetQueueAttributes for `All`, read from moto directly; panics naming
    /// the queue when it does not exist.
    pub async fn queue_attributes(&self, region: &str, name: &str) -> std::collections::BTreeMap<String, String> {
        let sqs = self.region(region).sqs;
        let url = match sqs.get_queue_url().queue_name(name).send().await {
            Ok(out) => out.queue_url.unwrap_or_default(),
            Err(err) => panic!("queue {name} in {region} does not exist: {err:?}"),
        };
        let out = sqs.get_queue_attributes().queue_url(url).attribute_names("All".into()).send().await.unwrap();
        out.attributes().into_iter().flatten().map(|(k, v)| (k.as_str().to_string(), v.clone())).collect()
    }

    /// SDK configuration acting in another `account`: moto, like AWS, makes every call signed with a role's
    /// assumed credentials act in the role's account (moto does not check the role exists).
    pub async fn account_config(&self, account: &str, region: &str) -> aws_config::SdkConfig {
        let (key, secret, token) =
            self.assumed_role(&format!("arn:aws:iam::{account}:role/test-setup"), "test-setup").await;
        let credentials = aws_credential_types::Credentials::new(key, secret, Some(token), None, "test-setup");
        self.sdk_config(region)
            .into_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
            .build()
    }

    /// A session of `role` (an ARN; moto does not check the role exists): its access key id, secret key and
    /// session token, as a CI job's assumed role hands them to eksaudit in `AWS_*` variables.
    pub async fn assumed_role(&self, role: &str, session: &str) -> (String, String, String) {
        let sts = aws_sdk_sts::Client::new(&self.sdk_config("us-east-1"));
        let out =
            sts.assume_role().role_arn(role).role_session_name(session).send().await.expect("assume a role in moto");
        let c = out.credentials().expect("credentials");
        (c.access_key_id().to_string(), c.secret_access_key().to_string(), c.session_token().to_string())
    }

    /// The product's client set acting in another account (see [`Moto::account_config`]), not recorded.
    pub async fn account(&self, account: &str) -> Aws {
        Aws::from_config(self.account_config(account, "us-east-1").await, true)
    }

    /// Organizations, as the management account (moto's own) sees it, not recorded.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.sdk_config("us-east-1"))
    }

    /// Creates an EKS cluster the way a user's account has one; `audit_logging` turns the audit log type on.
    pub async fn create_cluster(&self, region: &str, name: &str, audit_logging: bool) {
        create_cluster_with(&self.region(region), MOTO_ACCOUNT, name, audit_logging).await;
    }

    /// [`Moto::create_cluster`] in another account.
    pub async fn create_cluster_in(&self, account: &str, region: &str, name: &str, audit_logging: bool) {
        create_cluster_with(&self.account(account).await.region(region), account, name, audit_logging).await;
    }
}

async fn create_cluster_with(clients: &RegionClients, account: &str, name: &str, audit_logging: bool) {
    {
        use aws_sdk_eks::types::{LogSetup, LogType, Logging, VpcConfigRequest};
        let logging = Logging::builder()
            .cluster_logging(LogSetup::builder().types(LogType::Audit).enabled(audit_logging).build())
            .build();
        clients
            .eks
            .create_cluster()
            .name(name)
            .role_arn(format!("arn:aws:iam::{account}:role/eks-cluster"))
            .resources_vpc_config(VpcConfigRequest::builder().subnet_ids("subnet-12345678").build())
            .logging(logging)
            .send()
            .await
            .expect("create cluster in moto");
    }
}

impl Drop for Moto {
    /// Back to the pool after moto's own reset (every backend, every account and region emptied), when the server
    /// can be ended with the tests and answers the reset; stopped otherwise.
    fn drop(&mut self) {
        let Some(mut server) = self.server.take() else { return };
        if server.stdin.is_some() && reset(server.port) {
            let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(server);
                return;
            }
        }
        let _ = server.child.kill();
        let _ = server.child.wait();
    }
}

/// moto's `POST /moto-api/reset`: true when it answered 200.
fn reset(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let request = "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200") || answer.starts_with(b"HTTP/1.0 200")
}

/// Static credentials and no config files: nothing can reach a real account.
pub fn test_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_SESSION_TOKEN", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        // moto on a loopback port has no wildcard DNS: S3 by path, asked for as a user of such an endpoint would.
        ("EKSAUDIT_S3_PATH_STYLE", "true".into()),
    ]
}
