#!/bin/sh
# Test-signs a driver image: sign.sh IN.sys OUT.sys OUT.cer
# The certificate is generated once, self-signed, into .cache/windows/testcert
# and reused, so a test machine trusts it once (see windows-driver/README.md).
# Windows loads a test-signed driver only with test signing on
# (bcdedit /set testsigning on); Wine does not check signatures.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
in=$1 out=$2 cer=$3
dir="$root/.cache/windows/testcert"
for tool in openssl osslsigncode flock; do
  command -v "$tool" >/dev/null || { echo "sign.sh: $tool is missing (apt-get install $tool), or build with -Dsign=false" >&2; exit 1; }
done
mkdir -p "$dir"
(
  flock 9
  if [ ! -s "$dir/cert.pem" ] || [ ! -s "$dir/key.pem" ]; then
    openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 3650 \
      -subj "/CN=ioperm test signing (not for production)" \
      -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=codeSigning" \
      -keyout "$dir/key.pem" -out "$dir/cert.pem" >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; exit 1; }
  fi
) 9>"$dir/.lock"
rm -f "$out"
# A fixed signing time (SOURCE_DATE_EPOCH, else npm pack's 1985 date) keeps the signed image reproducible.
osslsigncode sign -certs "$dir/cert.pem" -key "$dir/key.pem" -h sha256 -time "${SOURCE_DATE_EPOCH:-499162500}" \
  -n "ioperm port I/O driver" -in "$in" -out "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
rm -f "$out.log"
openssl x509 -in "$dir/cert.pem" -outform DER -out "$cer"
