"""`chopsticks lab status` names the files a user points tools at, and how to point a shell at them."""
import shlex


def test_status_names_the_conf_keyring_s3_config_and_the_env_line(lab, cli):
    result = cli("lab", "status", "--dir", lab.dir)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"  ceph.conf      {lab.conf}" in lines
    assert f"  keyring        {lab.keyring} (client.{lab.client_id})" in lines
    assert f"  s3 config      {lab.s3_config}" in lines
    assert f'use it:        eval "$(chopsticks lab env --dir {shlex.quote(str(lab.dir))})"' in lines
