// The authenticated handshake (net/handshake.hpp), the cluster key file
// (net/cluster_key.hpp) and the record cipher (net/record_cipher.hpp): pure
// logic, no sockets.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "net/cluster_key.hpp"
#include "net/handshake.hpp"
#include "net/record_cipher.hpp"
#include "net/wire_writer.hpp"

using namespace spanvm::net;

namespace {

HandshakeSetup setup(const ClusterKey& key, bool encrypt = false) { return HandshakeSetup{"demo", 1, encrypt, key}; }

// Runs hello -> challenge -> proof between a dialer (node 0) holding `dk`
// and an acceptor (node 1) holding `ak`. Returns {dialer's refusal,
// acceptor's refusal}; both empty when each proved the key to the other.
struct Outcome {
    std::string dialer, acceptor;
    SessionKeys dk, ak;
};
Outcome run(const ClusterKey& dk, const ClusterKey& ak) {
    DialHandshake d(setup(dk), 0, 1);
    auto hello = decode_handshake(d.hello());
    REQUIRE(hello.has_value());
    REQUIRE(check_handshake(*hello, setup(ak), 1, 0) == "");
    AcceptHandshake a(setup(ak), 1, *hello);
    auto answer = d.on_challenge(a.challenge());
    REQUIRE_FALSE(answer.proof.empty());  // sent even when refusing
    Outcome o{answer.refused, a.on_proof(answer.proof), d.keys(), a.keys()};
    return o;
}

}  // namespace

SCENARIO("the handshake admits exactly the holders of the cluster key") {
    const ClusterKey k = generate_cluster_key(), other = generate_cluster_key();
    WHEN("both ends hold the key") {
        Outcome o = run(k, k);
        THEN("each accepts the other, and their record keys pair up per direction") {
            CHECK(o.dialer == "");
            CHECK(o.acceptor == "");
            CHECK(o.dk.send == o.ak.receive);
            CHECK(o.dk.receive == o.ak.send);
            CHECK(o.dk.send != o.dk.receive);
        }
    }
    WHEN("the ends hold different keys") {
        Outcome o = run(k, other);
        THEN("both refuse, each with the same one reason") {
            CHECK(o.dialer == "wrong cluster key (its proof of the key does not verify)");
            CHECK(o.acceptor == o.dialer);
        }
    }
    WHEN("a proof recorded on one connection is replayed on another") {
        DialHandshake d(setup(k), 0, 1);
        auto hello = decode_handshake(d.hello());
        REQUIRE(hello.has_value());
        AcceptHandshake first(setup(k), 1, *hello);
        auto answer = d.on_challenge(first.challenge());
        REQUIRE(answer.refused == "");
        AcceptHandshake second(setup(k), 1, *hello);  // same hello, fresh acceptor nonce
        THEN("the second acceptor refuses it") {
            CHECK(first.on_proof(answer.proof) == "");
            CHECK(second.on_proof(answer.proof) == "wrong cluster key (its proof of the key does not verify)");
        }
    }
    WHEN("the acceptor's own MAC is reflected back as the dialer's proof") {
        DialHandshake d(setup(k), 0, 1);
        auto hello = decode_handshake(d.hello());
        REQUIRE(hello.has_value());
        AcceptHandshake a(setup(k), 1, *hello);
        auto challenge = decode_handshake(a.challenge());
        REQUIRE(challenge.has_value());
        Handshake reflected;
        reflected.kind = HandshakeKind::proof;
        reflected.mac = challenge->mac;
        THEN("the direction label makes it fail") {
            CHECK(a.on_proof(encode_handshake(reflected)) != "");
        }
    }
    WHEN("a peer sends the pre-authentication handshake {cluster, from, to, version}") {
        WireWriter w;
        w.string("demo").u16(0).u16(1).u32(1);
        auto h = decode_handshake(w.view());
        THEN("it is refused as unauthenticated") {
            REQUIRE_FALSE(h.has_value());
            CHECK(h.error().message == "unauthenticated handshake (no proof of the cluster key)");
        }
    }
    WHEN("the dialer gets a hello or a proof where the challenge belongs") {
        DialHandshake d(setup(k), 0, 1);
        Handshake proof;
        proof.kind = HandshakeKind::proof;
        THEN("it refuses without sending a proof") {
            auto a1 = d.on_challenge(d.hello());
            CHECK(a1.proof.empty());
            CHECK(a1.refused == "expected a key challenge");
            auto a2 = d.on_challenge(encode_handshake(proof));
            CHECK(a2.proof.empty());
        }
    }
}

SCENARIO("records seal and open in order, and anything altered fails") {
    Key256 key{};
    key[0] = 7;
    RecordSealer sealer(key);
    RecordOpener opener(key, 1024);
    Bytes a(100, 0xaa), b(3, 0xbb);
    auto ra = sealer.seal(a), rb = sealer.seal(b);
    REQUIRE(ra.has_value());
    REQUIRE(rb.has_value());
    CHECK(ra->size() == a.size() + RECORD_HEADER_SIZE + RECORD_TAG_SIZE);
    WHEN("fed in pieces, in order") {
        Bytes stream = *ra;
        stream.insert(stream.end(), rb->begin(), rb->end());
        for (std::size_t i = 0; i < stream.size(); i += 7)
            opener.feed(ByteView(stream).subspan(i, std::min<std::size_t>(7, stream.size() - i)));
        THEN("both plaintexts come back") {
            auto x = opener.next();
            REQUIRE(x.has_value());
            REQUIRE(x->has_value());
            CHECK(**x == a);
            auto y = opener.next();
            REQUIRE(y.has_value());
            REQUIRE(y->has_value());
            CHECK(**y == b);
            auto z = opener.next();
            REQUIRE(z.has_value());
            CHECK_FALSE(z->has_value());
        }
    }
    WHEN("the second record is replayed first (reordered)") {
        opener.feed(*rb);
        THEN("it fails authentication, and stays failed") {
            CHECK(opener.next().error().code == EBADMSG);
            opener.feed(*ra);
            CHECK_FALSE(opener.next().has_value());
        }
    }
    WHEN("one ciphertext bit flips") {
        (*ra)[RECORD_HEADER_SIZE + 5] ^= 1;
        opener.feed(*ra);
        THEN("it fails authentication") { CHECK(opener.next().error().code == EBADMSG); }
    }
    WHEN("a record announces more than the opener allows") {
        RecordOpener small(key, 50);
        small.feed(*ra);
        THEN("the header alone is refused") { CHECK(small.next().error().code == EMSGSIZE); }
    }
}

SCENARIO("key files: 64 hex digits, mode 0600, never overwritten") {
    char dir[] = "/tmp/spanvm-key-test.XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string path = std::string(dir) + "/k";
    const ClusterKey k = generate_cluster_key();
    write_key_file(path, k);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(load_key_file(path) == k);
    CHECK_THROWS_AS(write_key_file(path, k), std::runtime_error);
    CHECK(parse_cluster_key(format_cluster_key(k)) == k);
    CHECK_FALSE(parse_cluster_key("abc").has_value());
    CHECK_FALSE(parse_cluster_key(std::string(64, 'g')).has_value());
    ::chmod(path.c_str(), 0640);
    try {
        (void)load_key_file(path);
        FAIL("a group-readable key file was accepted");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) == "key file " + path + " is accessible by group or others (mode 0640); chmod 600 it");
    }
    ::unlink(path.c_str());
    ::rmdir(dir);
}
