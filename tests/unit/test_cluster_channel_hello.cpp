// The syscall channel's opening (vmm/cluster/channel_hello.hpp) against a
// real ChannelListener on loopback: a node with the key gets through; a
// forged hello (wrong key) and a hello replayed from another connection are
// dropped before the executor sees a channel.
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <utility>  // before Boost 1.74 asio, whose awaitable.hpp misses it under GCC 12
#include <vector>

#include <boost/asio.hpp>

#include "net/cluster_key.hpp"
#include "net/wire_frame.hpp"
#include "vmm/base/log.hpp"
#include "vmm/cluster/channel_hello.hpp"
#include "vmm/cluster/syscall_channel.hpp"

using namespace spanvm;
using namespace spanvm::cluster;

namespace {

struct Accepted {
    std::mutex mu;
    std::vector<std::int32_t> tids;
    std::vector<std::unique_ptr<SyscallChannel>> channels;
    std::size_t count() {
        std::lock_guard lk(mu);
        return tids.size();
    }
};

// A raw client: connects, reads the challenge, sends `hello` (computed by
// `make` from the challenge), then waits for the listener to keep or drop it.
struct RawClient {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s{io};
    net::Nonce challenge{};

    explicit RawClient(std::uint16_t port) {
        s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
        net::Bytes hdr(net::FRAME_HEADER_SIZE);
        boost::asio::read(s, boost::asio::buffer(hdr));
        auto h = net::decode_header(hdr);
        REQUIRE(h.has_value());
        REQUIRE(h->type == static_cast<std::uint16_t>(ChannelType::challenge));
        REQUIRE(h->payload_length == challenge.size());
        boost::asio::read(s, boost::asio::buffer(challenge));
    }
    void send_hello(const ChannelHello& hello) {
        auto f = net::make_frame(static_cast<std::uint16_t>(ChannelType::hello), 0, 0, encode_channel_hello(hello));
        boost::asio::write(s, boost::asio::buffer(*f));
    }
    // True once the listener closed the connection (it dropped the hello).
    bool dropped() {
        std::uint8_t b;
        boost::system::error_code ec;
        s.read_some(boost::asio::buffer(&b, 1), ec);
        return static_cast<bool>(ec);
    }
};

}  // namespace

SCENARIO("the syscall channel admits a hello only for its own connection and key") {
    log::set_level(log::Level::error);  // the drops warn
    const net::ClusterKey key = net::generate_cluster_key();
    Accepted acc;
    auto l = ChannelListener::start("127.0.0.1", ChannelSecurity{key, false, 0},
                                    [&](std::int32_t tid, std::unique_ptr<SyscallChannel> ch) {
                                        std::lock_guard lk(acc.mu);
                                        acc.tids.push_back(tid);
                                        acc.channels.push_back(std::move(ch));
                                    });
    REQUIRE(l.has_value());
    const std::uint16_t port = (*l)->port();
    const std::uint64_t cookie = (*l)->cookie();

    WHEN("a node holding the key connects") {
        auto ch = SyscallChannel::connect("127.0.0.1", port, ChannelSecurity{key, false, 1}, cookie, 42);
        REQUIRE(ch.has_value());
        THEN("the executor gets the channel for its thread") {
            for (int i = 0; i < 500 && acc.count() == 0; ++i) ::usleep(2000);
            REQUIRE(acc.count() == 1);
            CHECK(acc.tids[0] == 42);
        }
    }
    WHEN("a hello is made with another key") {
        RawClient c(port);
        ChannelHello h{cookie, 7, 1, net::fresh_nonce(), {}};
        h.mac = channel_hello_mac(net::generate_cluster_key(), c.challenge, h);
        c.send_hello(h);
        THEN("it is dropped") {
            CHECK(c.dropped());
            CHECK(acc.count() == 0);
        }
    }
    WHEN("a valid hello from one connection is replayed on another") {
        RawClient first(port);
        ChannelHello h{cookie, 9, 1, net::fresh_nonce(), {}};
        h.mac = channel_hello_mac(key, first.challenge, h);
        first.send_hello(h);
        for (int i = 0; i < 500 && acc.count() == 0; ++i) ::usleep(2000);
        REQUIRE(acc.count() == 1);
        RawClient second(port);
        CHECK(second.challenge != first.challenge);
        second.send_hello(h);
        THEN("the replay is dropped") {
            CHECK(second.dropped());
            CHECK(acc.count() == 1);
        }
    }
    WHEN("the old hello (cookie and tid, no proof) is sent") {
        RawClient c(port);
        std::uint8_t old[12] = {};
        auto f = net::make_frame(static_cast<std::uint16_t>(ChannelType::hello), 0, 0, net::ByteView(old, sizeof old));
        boost::asio::write(c.s, boost::asio::buffer(*f));
        THEN("it is dropped") {
            CHECK(c.dropped());
            CHECK(acc.count() == 0);
        }
    }
    l->reset();
    log::set_level(log::Level::warn);
}
