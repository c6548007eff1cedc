"""The planted secrets of the secrets suite: key names, credential-shaped values, config files.

Every planted value is unique, so a hit anywhere names the place that leaked it.
"""

from __future__ import annotations

from typing import Any

# (dotted key path, whether its value must be hidden). Dots nest, as in a params file.
KEY_NAMES: list[tuple[str, bool]] = [
    # secret: the names that leaked before, and their spellings and nestings
    ("github.pat", True),
    ("pat", True),
    ("db_pass", True),
    ("DB_PASS", True),
    ("dbPass", True),
    ("DbPassword", True),
    ("pwd", True),
    ("passphrase", True),
    ("ssh_key", True),
    ("priv_key", True),
    ("privateKey", True),
    ("sessionCookie", True),
    ("cookie", True),
    ("bearer", True),
    ("authkey", True),
    ("connection_string", True),
    ("dsn", True),
    ("database_url", True),
    ("DATABASE_URL", True),
    ("license_key", True),
    ("encryption_key", True),
    ("signing_key", True),
    ("gpg_key", True),
    ("webhook_url", True),
    ("slack.webhook", True),
    ("hmac", True),
    ("creds", True),
    ("pkcs12", True),
    ("keystore_pass", True),
    ("password", True),
    ("apiKey", True),
    ("API_KEY", True),
    ("aws.secretKey", True),
    ("aws.accessKey", True),
    ("aws_access_key_id", True),
    ("GITHUB_TOKEN", True),
    ("client_secret", True),
    ("clientSecret", True),
    ("oauth_token", True),
    ("jwt", True),
    ("sas_token", True),
    ("redis_url", True),
    ("kubeconfig", True),
    ("netrc", True),
    ("otp", True),
    ("registry.auth", True),
    ("tower.accessToken", True),
    ("s3.credentials.user", True),  # everything under a secret key
    # not secret: what people look for in history, and words that only contain a secret one
    ("outdir", False),
    ("input", False),
    ("genome", False),
    ("max_memory", False),
    ("max_cpus", False),
    ("tokenizer", False),
    ("max_tokens", False),
    ("author", False),
    ("authors", False),
    ("igenomes_base", False),
    ("skip_fastqc", False),
    ("email", False),
    ("multiqc_title", False),
    ("publish_dir_mode", False),
    ("passage_number", False),
    ("compass_heading", False),
    ("patient_id", False),
    ("pathway", False),
    ("db.host", False),
    ("db.port_name", False),
    ("aws.region", False),
    ("aws.client.maxConnections", False),
    ("reference.fasta", False),
]

# (innocent key, value shaped like a credential): hidden whatever the key says.
CREDENTIAL_VALUES: list[tuple[str, str]] = [
    ("note", "postgres://app:PW-corpus-7f3a@db.example.org:5432/prod"),
    ("mirror", "https://builder:pw-corpus-81c2@git.example.org/org/repo.git"),
    ("cert_pem", "-----BEGIN PRIVATE KEY-----\nMIIEcorpus55aa\n-----END PRIVATE KEY-----"),
    ("gh", "ghp_corpus0123456789abcdefghijABCDEFGHIJ"),
    ("gl", "glpat-corpus0123456789abcd"),
    ("chat", "xoxb-1234-corpus-5678-abcdEFGH"),
    ("aws_id", "AKIACORPUS0123456789"),
    ("notify", "https://hooks.slack.com/services/T000/B000/corpusXYZ123"),
    ("jwtish", "eyJhbGciOiJIUzI1Ni.eyJzdWIiOiJjb3JwdXMifQ.corpus-signature"),
    ("conn", "Server=db;Database=x;Password=pw-corpus-azure;"),
    ("llm", "sk-corpus0123456789abcdefABCDEF"),
    ("header", "Bearer corpus-bearer-0123456789"),
]

# A -c file a careless user writes: credentials among ordinary settings.
CONFIG_SECRETS = {
    "aws_secret": "cfg-aws-secret-5a9e",
    "db_password": "cfg-db-password-77d1",
    "token_url": "https://ci:cfg-url-pass-42bb@registry.example.org/v2",
}
CONFIG_TEXT = f"""\
aws {{
    accessKey = 'AKIACFGCORPUS0123456'
    secretKey = '{CONFIG_SECRETS["aws_secret"]}'
    region = 'eu-west-1'
}}
params.dbPassword = "{CONFIG_SECRETS["db_password"]}"
params.registry_mirror = '{CONFIG_SECRETS["token_url"]}'
process.cpus = 1
"""


def planted(index: int, key: str) -> str:
    return f"planted-{index:02d}-{key.replace('.', '-').lower()}-q7"


def nest(path: str, value: Any, into: dict[str, Any]) -> None:
    *parents, last = path.split(".")
    node = into
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def lookup(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict):
            return node  # a parent was redacted whole
        node = node.get(part)
    return node


def corpus_params() -> dict[str, Any]:
    params: dict[str, Any] = {}
    for index, (path, _) in enumerate(KEY_NAMES):
        nest(path, planted(index, path), params)
    values = [value for _, value in CREDENTIAL_VALUES]
    for key, value in CREDENTIAL_VALUES:
        params[key] = value
    params["mixed_list"] = ["plain-list-item", values[3]]
    return params


def secret_values() -> list[str]:
    """Every value that must appear nowhere but in the run's Secret."""
    values = [planted(i, path) for i, (path, secret) in enumerate(KEY_NAMES) if secret]
    values += [value for _, value in CREDENTIAL_VALUES]
    values += list(CONFIG_SECRETS.values())
    return values


def shown_values() -> list[str]:
    return [planted(i, path) for i, (path, secret) in enumerate(KEY_NAMES) if not secret]


def hits(text: str, values: list[str]) -> list[str]:
    """The planted values found in ``text``; a multi-line value counts by each of its lines."""
    found = []
    for value in values:
        lines = value.splitlines() if "\n" in value else []
        parts = [value, *[line for line in lines if not line.startswith("-----")]]
        if any(part in text for part in parts):
            found.append(value)
    return found
