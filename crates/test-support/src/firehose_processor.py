"""Emulates what AWS Firehose does with a Lambda processor, because moto's Firehose runs no processors (it writes
each record as it came, uncompressed, whatever the stream's processing and compression say).

For one stream: every object moto wrote under the stream's prefix (what Firehose received, records end to end:
CloudWatch Logs' records are gzip members, so the object splits back into them) becomes one Firehose
transformation event; the function's real code (the zip eksaudit uploaded, as the test-support recorder kept it)
runs on it with the function's region as AWS_REGION; what it answers is written as Firehose writes it:
- the `Ok` records' data, end to end, compressed as the stream says (GZIP) under the same key plus the stream's
  file extension;
- the `ProcessingFailed` records under `<error prefix>processing-failed/` as Firehose's JSON lines;
- `Dropped` records nowhere.
moto's own object goes: Firehose would never have written it. (moto notified the bucket's target about it already;
a consumer reading that message finds the object gone.)

Usage: python firehose_processor.py ENDPOINT REGION STREAM CODE_FILE (CODE_FILE: the base64 zip). Prints a JSON
list of the keys written.
"""

import base64
import gzip
import json
import os
import sys
import tempfile
import zlib

import boto3


def gzip_members(data):
    """The gzip members of concatenated gzip data, each as its bytes."""
    members = []
    while data:
        d = zlib.decompressobj(wbits=31)
        d.decompress(data)
        if not d.eof:
            raise ValueError("a truncated gzip member")
        used = len(data) - len(d.unused_data)
        members.append(data[:used])
        data = d.unused_data
    return members


def main(endpoint, region, stream, code_file):
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    firehose = session.client("firehose", endpoint_url=endpoint)
    s3 = session.client("s3", endpoint_url=endpoint)
    desc = firehose.describe_delivery_stream(DeliveryStreamName=stream)["DeliveryStreamDescription"]
    dest = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    processing = dest.get("ProcessingConfiguration") or {}
    lambdas = [p for p in processing.get("Processors", []) if p.get("Type") == "Lambda"]
    if not processing.get("Enabled") or not lambdas:
        print("[]")
        return
    bucket = dest["BucketARN"].split(":::")[-1]
    prefix, error_prefix = dest.get("Prefix", ""), dest.get("ErrorOutputPrefix", "")
    extension = dest.get("FileExtension", "")
    compress = dest.get("CompressionFormat") == "GZIP"

    work = tempfile.mkdtemp()
    zip_path = os.path.join(work, "function.zip")
    with open(code_file) as f, open(zip_path, "wb") as out:
        out.write(base64.b64decode(f.read()))
    sys.path.insert(0, zip_path)
    os.environ["AWS_REGION"] = region
    import handler  # the deployed function's own code, from its zip

    # The bucket's TLS-only policy refuses moto's plain HTTP: Firehose writes over TLS. Lifted while writing, and
    # put back as it was.
    try:
        policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except s3.exceptions.ClientError:
        policy = None
    if policy:
        s3.delete_bucket_policy(Bucket=bucket)
    written = []
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        for obj in listed:
            key = obj["Key"]
            if extension and key.endswith(extension):
                continue
            raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            records = [
                {"recordId": str(i), "approximateArrivalTimestamp": 0, "data": base64.b64encode(m).decode()}
                for i, m in enumerate(gzip_members(raw))
            ]
            event = {"invocationId": "emulated", "deliveryStreamArn": desc["DeliveryStreamARN"], "region": region,
                     "records": records}
            answer = handler.handler(event, None)
            by_id = {r["recordId"]: r for r in answer["records"]}
            assert set(by_id) == {r["recordId"] for r in records}, "every recordId answered"
            assert len(json.dumps(answer)) < 6 * 1024 * 1024, "under Lambda's response limit"
            ok = b"".join(base64.b64decode(r["data"]) for r in answer["records"] if r["result"] == "Ok")
            failed = [r for r in records if by_id[r["recordId"]]["result"] == "ProcessingFailed"]
            if ok:
                out_key = key + extension
                s3.put_object(Bucket=bucket, Key=out_key, Body=gzip.compress(ok) if compress else ok)
                written.append(out_key)
            if failed:
                lines = "".join(json.dumps({"attemptsMade": 1, "errorCode": "Lambda.FunctionError",
                                            "rawData": r["data"]}) + "\n" for r in failed)
                error_key = f"{error_prefix}processing-failed/{key[len(prefix):]}"
                s3.put_object(Bucket=bucket, Key=error_key, Body=lines.encode())
                written.append(error_key)
            s3.delete_object(Bucket=bucket, Key=key)
    finally:
        if policy:
            s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    print(json.dumps(written))


if __name__ == "__main__":
    main(*sys.argv[1:5])
