# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Known answers: verifiers made by libpq (psycopg2's encrypt_password, PostgreSQL 16) and by the server
itself (CREATE ROLE ... PASSWORD '<plaintext>'), so SASLprep and the SCRAM/md5 formats match theirs."""

from __future__ import annotations

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils import scram

# (password, libpq SCRAM verifier, server-made SCRAM verifier, libpq md5 verifier for role "bemi")
VECTORS = [
    ('correct horse',
     'SCRAM-SHA-256$4096:89m0WJbGuO7SbGi3G/PXeg==$saItEgVloJ2x5NP6xCVIfE4aVswuB0q0avibmJXjG9g=:XOFdvZDGsiLZhTza2nqjKLi3HgtMZj+7htZ2baTWd+A=',
     'SCRAM-SHA-256$4096:K8wzOiDJPlHLqMbKaRg6Zg==$Lt7CUa/YAfE0fv9GFOTj2RaiEJR9kUpCAZkfvinCSAw=:uSur9JLhXs6eIH90apiw0zuBMbR/g7nSThiPrfY6sCQ=',
     'md5d234663ea0be6f6bcba09ba077671aaf'),
    # non-ASCII, quotes, ; and --
    ('p\u00e4ssw\u00f6rd \'";--',
     'SCRAM-SHA-256$4096:POSutJXJT++e6+AcZGHEYA==$fV5BHN6D3C7lOso3geTsduQ78TwcpiJbgGwBNN4uokA=:K+ydYNtkrhpHLMhGBoqMEuGmKB7c573ZHBY0UbKaxEg=',
     'SCRAM-SHA-256$4096:i07AE5uKjK4zowAt5Xn9yQ==$rB2UJiWwF51ra+0qJeQ70Aid9xO9qeS2auESyTEo+aE=:9qxkAaa+CuKeFGlp0/csVB9oZp/lKymgBMcVQvh8gFg=',
     'md50836f932271d2cdb4a3dda88c8de5fc7'),
    # full-width letters: NFKC turns them into "pass"
    ('\uff50\uff41\uff53\uff53',
     'SCRAM-SHA-256$4096:Cw89XOrCJuFO9Y2pAmDEVg==$j4Hq/eoXPSedpgCRzfLORgyr6e6zu912y8CIU9M9fu0=:QA8m552PBkKqfKBS8l8luSOys46xMbMqKkGbg1IzJug=',
     'SCRAM-SHA-256$4096:H4K9EBUGpuvoFT7AXTxHlQ==$2SNx6/H2MiekkiN0Jry7/7p0mnCJSLSB1OzZvodzWv8=:7ejmiqZE/vWquwnTMAt546+aDJjVwyJkdRmA0lKr5J4=',
     'md5c3efd700d2024fdd29bfce9029eef9fd'),
    # soft hyphen: mapped to nothing
    ('I\u00adX',
     'SCRAM-SHA-256$4096:OHq+5+s5SqlogPjPxTzXcg==$AgHgRQYUY/la/mnmXm6rzN74T84HWoAShNMUDJsUW0c=:MM4NwTQmTAdgAhIh7PjXsUrurvhRW1NvbDkNh14NOoE=',
     'SCRAM-SHA-256$4096:wAG+iON6bQnUH5b7yHGk3g==$GrF63Icn0gt03eKNE+2J7TH4M9XcF3kIqNePP9NH4QQ=:LeFduBiB/WZn7VZq4gpBep49fB/BMSV6PDbwLf+vCR8=',
     'md51b2f317af198c0ae8a89576c61f6e5ce'),
    # a control character: SASLprep refuses it, so the raw bytes are hashed
    ('a\u0007\u00e9',
     'SCRAM-SHA-256$4096:kgGGUFc/XtTU+goOBHB1HQ==$S7q5+fAGMFYdF/E537oieh0K0Mj/AkO1Ft15syDh2ow=:HIIJw+CRFv48MoTWEDDrdufxwpfo3rGwCchykWxJqAA=',
     'SCRAM-SHA-256$4096:b08WXkUOB+uurunqdRzg5g==$+DIv+k3z5QvywM9cifyCCUc3wEhryAqGScW+cggM4WY=:KAbabl9G2CUVfdTh5kXq3S7IQY1RF2tn5TSXtNhYb8Q=',
     'md5c0d328003a7fe350948b8f17e48f0c9d'),
    # right-to-left text ending in a digit: bad bidi, raw bytes
    ('\u0627\u0031',
     'SCRAM-SHA-256$4096:f9GuKceQZ7h7W3uqP9oEvA==$ZHqmkwu1KVfB0L/uq/7awccIYzdgmuauK4oVGxWo4+M=:rvYZpobKgBLwx5H+G0HZpPgsCgfj7wrv8qkJ7A1T2RI=',
     'SCRAM-SHA-256$4096:8R0W2h4V3POWSKzWhr0Hsg==$/5Hr9BxDYtJsvQuoYyEOj6ZkGbybTW5PwtbPn1wHuBY=:NKxudqPHGjFva4x6Lhf6Zq563dQlAdLnPZXMsIL62Sg=',
     'md51c9413cab4ea27c518c5be15341f9931'),
]


@pytest.mark.parametrize('password, libpq, server, md5', VECTORS)
def test_known_verifiers_verify(password, libpq, server, md5):
    for stored in (libpq, server, md5):
        assert scram.verify(password, 'bemi', stored)
        assert not scram.verify(password + 'x', 'bemi', stored)
    assert scram.md5_verifier(password, 'bemi') == md5
    assert not scram.verify(password, 'other', md5)


@pytest.mark.parametrize('password, libpq, server, md5', VECTORS)
def test_rebuilt_with_the_same_salt_is_identical(password, libpq, server, md5):
    for stored in (libpq, server):
        secret = scram.parse_scram(stored)
        assert secret.iterations == 4096 and len(secret.salt) == 16
        assert scram.scram_verifier(password, secret.iterations, secret.salt) == stored
        assert str(secret) == stored


def test_new_verifier_has_a_fresh_salt_and_verifies():
    one, two = scram.scram_verifier('s3cret'), scram.scram_verifier('s3cret')
    assert one != two
    assert scram.parse_scram(one).iterations == scram.DEFAULT_ITERATIONS
    assert scram.verify('s3cret', 'any', one) and scram.verify('s3cret', 'any', two)
    assert scram.parse_scram(scram.scram_verifier('x', iterations=10000)).iterations == 10000


@pytest.mark.parametrize('text, kind', [
    (VECTORS[0][1], scram.SCRAM),
    (VECTORS[0][3], scram.MD5),
    ('md5D234663EA0BE6F6BCBA09BA077671AAF', scram.PLAIN),  # the server wants lower-case hex
    ('md5d234663ea0be6f6bcba09ba077671aa', scram.PLAIN),
    ('SCRAM-SHA-256$4096:c2FsdA==$short:short', scram.PLAIN),
    ('SCRAM-SHA-256$x:c2FsdA==$' + VECTORS[0][1].split('$')[2], scram.PLAIN),
    ('SCRAM-SHA-256$4096:c2FsdA==', scram.PLAIN),
    ('correct horse', scram.PLAIN),
    ('', scram.PLAIN),
])
def test_password_type(text, kind):
    assert scram.password_type(text) == kind


def test_saslprep():
    assert scram.saslprep('plain ascii\x07') == b'plain ascii\x07'
    assert scram.saslprep('\uff50\uff41\uff53\uff53') == b'pass'
    assert scram.saslprep('a\u00a0b') == b'a b'  # non-ASCII space becomes a space
    assert scram.saslprep('I\u00adX') == b'IX'
    assert scram.saslprep('\u00ad') == '\u00ad'.encode('utf-8')  # nothing left: raw
    assert scram.saslprep('\u0627\u0031') == '\u0627\u0031'.encode('utf-8')
    assert scram.saslprep('\u0627\u0628') == '\u0627\u0628'.encode('utf-8')


SCRAM_STORED = VECTORS[0][1]
MD5_STORED = VECTORS[0][3]


def decide(password, stored=None, exists=True, readable=True, update='always', encryption='scram-sha-256'):
    return scram.decide_password(password, 'bemi', exists, stored, readable, update, encryption)


def test_decide_password():
    assert not decide(None, SCRAM_STORED).change
    assert not decide('correct horse', SCRAM_STORED).change
    assert not decide('correct horse', SCRAM_STORED, encryption='md5').change  # never downgraded
    changed = decide('another', SCRAM_STORED)
    assert changed.change and scram.verify('another', 'bemi', changed.verifier)
    assert changed.verifier.startswith('SCRAM-SHA-256$4096:')
    # md5 stored: upgraded on a SCRAM server, compared on an md5 server
    upgrade = decide('correct horse', MD5_STORED)
    assert upgrade.change and scram.parse_scram(upgrade.verifier)
    assert not decide('correct horse', MD5_STORED, encryption='md5').change
    assert decide('another', MD5_STORED, encryption='md5').verifier == scram.md5_verifier('another', 'bemi')
    # pre-hashed: verbatim
    assert not decide(SCRAM_STORED, SCRAM_STORED).change
    assert decide(MD5_STORED, SCRAM_STORED).verifier == MD5_STORED
    assert decide(SCRAM_STORED, None).verifier == SCRAM_STORED
    assert decide(SCRAM_STORED, exists=False).verifier == SCRAM_STORED
    # on_create
    assert not decide('another', SCRAM_STORED, update='on_create').change
    assert not decide('another', readable=False, update='on_create').change
    assert decide('another', exists=False, update='on_create').change
    # unreadable: a change, with a warning
    blind = decide('correct horse', readable=False)
    assert blind.change and 'cannot be read' in blind.warning
    assert 'correct horse' not in blind.warning
    # no password yet
    assert decide('correct horse', None).change
