// Cluster configuration: TOML files and the command-line spec form.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <unistd.h>

#include "net/cluster_config.hpp"

using namespace spanvm::net;

namespace {
// The one-line message a parse failure produces.
std::string toml_error(const std::string& text) {
    try {
        (void)parse_cluster_toml(text, "cluster.toml");
    } catch (const ClusterConfigError& e) {
        return e.what();
    }
    return "(no error)";
}
std::string spec_error(const std::string& spec) {
    try {
        (void)parse_cluster_spec(spec);
    } catch (const ClusterConfigError& e) {
        return e.what();
    }
    return "(no error)";
}
// Repository root (tests/CMakeLists.txt defines it; __FILE__ may be relative
// under a compiler cache).
std::string source_dir() { return SPANVM_SOURCE_DIR; }
const char* const two_nodes = R"(
[cluster]
name = "demo"
[[node]]
id = 1
address = "10.200.0.2"
port = 7400
[[node]]
id = 0
address = "127.0.0.1"
port = 7400
)";
}  // namespace

SCENARIO("a valid TOML cluster file parses into nodes indexed by id") {
    GIVEN("two nodes listed out of order") {
        ClusterConfig c = parse_cluster_toml(two_nodes);
        THEN("they are sorted by id with their endpoints") {
            CHECK(c.name == "demo");
            REQUIRE(c.size() == 2);
            CHECK(c.node(0).address == "127.0.0.1");
            CHECK(c.node(0).port == 7400);
            CHECK(c.node(1).address == "10.200.0.2");
            CHECK(c.node(1).endpoint() == "10.200.0.2:7400");
            CHECK(c.describe(1) == "node 1 (10.200.0.2:7400)");
        }
        WHEN("node 1 has a label (a deputy's session names the run's host)") {
            c.labels = {"", "node 3's session"};
            THEN("its lines name it by the label, node 0 stays as it was") {
                CHECK(c.describe(1) == "node 3's session (10.200.0.2:7400)");
                CHECK(c.describe(0) == "node 0 (127.0.0.1:7400)");
                CHECK(c.describe_failure(1, "node 3's session (10.200.0.2:7400): reset") ==
                      "node 3's session (10.200.0.2:7400) failed: reset");
            }
        }
    }
    GIVEN("the example files shipped in configs/, copied next to a fresh key") {
        char dir[] = "/tmp/spanvm-cfg-test.XXXXXX";
        REQUIRE(::mkdtemp(dir) != nullptr);
        const std::string d = dir;
        const ClusterKey key = generate_cluster_key();
        write_key_file(d + "/cluster.key", key);
        for (const char* name : {"cluster-local.toml", "cluster-two-hosts.toml"}) {
            std::ifstream in(source_dir() + "/configs/" + name);
            std::ofstream(d + "/" + name) << in.rdbuf();
        }
        THEN("both load, with the key their key_file names") {
            auto local = load_cluster_file(d + "/cluster-local.toml");
            CHECK(local.size() == 3);
            CHECK(local.node(2).port == 7402);
            CHECK(local.key == key);
            CHECK_FALSE(local.encrypt);
            auto two = load_cluster_file(d + "/cluster-two-hosts.toml");
            CHECK(two.name == "demo");
            CHECK(two.size() == 2);
            CHECK(two.key == key);
        }
        for (const char* name : {"cluster-local.toml", "cluster-two-hosts.toml", "cluster.key"})
            std::remove((d + "/" + name).c_str());
        ::rmdir(dir);
    }
    GIVEN("a key_file that does not exist, and encrypt that is not a bool") {
        THEN("each is one line naming the file") {
            CHECK(toml_error("[cluster]\nname='x'\nkey_file='/nonexistent/k'\n[[node]]\nid=0\naddress='::1'\nport=9\n") ==
                  "cluster.toml: key file /nonexistent/k: cannot open: No such file or directory");
            CHECK(toml_error("[cluster]\nname='x'\nencrypt='yes'\n[[node]]\nid=0\naddress='::1'\nport=9\n") ==
                  "cluster.toml: [cluster]: encrypt must be true or false");
        }
    }
    GIVEN("an IPv6 node") {
        auto c = parse_cluster_toml("[cluster]\nname='v6'\n[[node]]\nid=0\naddress='::1'\nport=9\n");
        CHECK(c.node(0).endpoint() == "[::1]:9");
    }
}

SCENARIO("bad TOML cluster files give one clear line") {
    const std::string head = "[cluster]\nname = \"demo\"\n";
    auto node = [](int id, const std::string& addr, long port) {
        return "[[node]]\nid = " + std::to_string(id) + "\naddress = \"" + addr + "\"\nport = " + std::to_string(port) +
               "\n";
    };
    CHECK(toml_error(head + node(0, "127.0.0.1", 7400) + node(1, "127.0.0.1", 70000)) ==
          "cluster.toml: node 1: port 70000 out of range (1..65535)");
    CHECK(toml_error(head + node(0, "127.0.0.1", 7400) + node(0, "127.0.0.1", 7401)) ==
          "cluster.toml: node 0: duplicate id");
    CHECK(toml_error(head + node(0, "127.0.0.1", 7400) + node(2, "127.0.0.1", 7401)) ==
          "cluster.toml: node 2: id out of range (ids must be 0..1 for 2 nodes)");
    CHECK(toml_error(head + node(0, "127.0.0.1", 0)) == "cluster.toml: node 0: port 0 out of range (1..65535)");
    CHECK(toml_error(head + node(0, "host.example", 1)) ==
          "cluster.toml: node 0: address 'host.example' is not an IP address");
    CHECK(toml_error(head + node(0, "127.0.0.1", 7400) + node(1, "127.0.0.1", 7400)) ==
          "cluster.toml: node 1: endpoint 127.0.0.1:7400 is used by another node");
    CHECK(toml_error(head + node(-1, "127.0.0.1", 7400)) ==
          "cluster.toml: node entry 1: id -1 out of range (0..1023)");
    CHECK(toml_error(head + "[[node]]\naddress = \"127.0.0.1\"\nport = 1\n") ==
          "cluster.toml: node entry 1: missing integer 'id'");
    CHECK(toml_error(head + "[[node]]\nid = 0\nport = 1\n") == "cluster.toml: node 0: missing string 'address'");
    CHECK(toml_error(head + "[[node]]\nid = 0\naddress = \"127.0.0.1\"\n") ==
          "cluster.toml: node 0: missing integer 'port'");
    CHECK(toml_error(head + "[[node]]\nid = 0\naddress = \"127.0.0.1\"\nport = \"7400\"\n") ==
          "cluster.toml: node 0: missing integer 'port'");
    CHECK(toml_error(head + node(0, "127.0.0.1", 1) + "prot = 3\n") == "cluster.toml: node 0: unknown key 'prot'");
    CHECK(toml_error(node(0, "127.0.0.1", 1)) == "cluster.toml: missing [cluster] table");
    CHECK(toml_error("[cluster]\n" + node(0, "127.0.0.1", 1)) == "cluster.toml: [cluster]: missing string 'name'");
    CHECK(toml_error("[cluster]\nname = \"\"\n" + node(0, "127.0.0.1", 1)) == "cluster.toml: cluster name is empty");
    CHECK(toml_error(head) == "cluster.toml: no [[node]] entries");
    CHECK(toml_error(head + "extra = 1\n" + node(0, "127.0.0.1", 1)) == "cluster.toml: [cluster]: unknown key 'extra'");
    CHECK(toml_error("bogus = 1\n" + head + node(0, "127.0.0.1", 1)) == "cluster.toml: unknown top-level key 'bogus'");
    std::string syntax = toml_error("[cluster\nname = 1\n");
    CHECK(syntax.rfind("cluster.toml: line 1: ", 0) == 0);
    CHECK(syntax.find('\n') == std::string::npos);
}

SCENARIO("loading a missing file names the path") {
    try {
        (void)load_cluster_file("/nonexistent/cluster.toml");
        FAIL("no exception");
    } catch (const ClusterConfigError& e) {
        CHECK(std::string(e.what()) == "/nonexistent/cluster.toml: cannot open: No such file or directory");
    }
}

SCENARIO("the command-line cluster spec") {
    GIVEN("a good spec") {
        auto c = parse_cluster_spec("1=127.0.0.1:7401,0=127.0.0.1:7400,2=[::1]:7402", "cli-demo");
        CHECK(c.name == "cli-demo");
        REQUIRE(c.size() == 3);
        CHECK(c.node(0).port == 7400);
        CHECK(c.node(1).port == 7401);
        CHECK(c.node(2).address == "::1");
    }
    GIVEN("bad specs") {
        CHECK(spec_error("") == "cluster spec: empty (expected e.g. \"0=127.0.0.1:7400,1=127.0.0.1:7401\")");
        CHECK(spec_error("0=127.0.0.1") == "cluster spec: entry '0=127.0.0.1': missing ':PORT'");
        CHECK(spec_error("127.0.0.1:7400") == "cluster spec: entry '127.0.0.1:7400': expected ID=ADDRESS:PORT");
        CHECK(spec_error("0=127.0.0.1:7400,1=127.0.0.1:70000") ==
              "cluster spec: node 1: port 70000 out of range (1..65535)");
        CHECK(spec_error("x=127.0.0.1:1") == "cluster spec: entry 'x=127.0.0.1:1': id 'x' is not a number");
        CHECK(spec_error("0=127.0.0.1:7400,0=127.0.0.1:7401") == "cluster spec: node 0: duplicate id");
        CHECK(spec_error("1=127.0.0.1:7400") == "cluster spec: node 1: id out of range (ids must be 0..0 for 1 nodes)");
        CHECK(spec_error("0=127.0.0.1:7400,") == "cluster spec: entry '': expected ID=ADDRESS:PORT");
        CHECK(spec_error("0=nohost:1") == "cluster spec: node 0: address 'nohost' is not an IP address");
    }
}
