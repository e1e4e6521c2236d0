#include "net/link_context.hpp"

#include <boost/asio/error.hpp>
#include <fmt/format.h>

namespace spanvm::net {

std::string describe_ec(const boost::system::error_code& ec) {
    if (ec == asio::error::eof) return "connection closed by peer";
    if (ec == asio::error::connection_reset) return "connection reset";
    if (ec == asio::error::broken_pipe) return "connection broken (EPIPE)";
    return ec.message();
}

void close_socket(tcp::socket& s) {
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
}

std::string tcp_endpoint_text(const tcp::endpoint& ep) {
    if (ep.address().is_v6()) return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
    return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

}  // namespace spanvm::net
