#pragma once
// The socket under a session's Beast WebSocket stream. Beast still does the handshake, reads
// every frame and writes its own control frames (the pong to a client's ping, the close
// handshake); the session writes its queued text frames itself, all of them in one gathered
// write (ws/frame.hpp), where Beast would make one write per message. The gate keeps the two
// writers from interleaving bytes on the socket: a Beast write that starts while the session's
// write is under way waits for it, and the session waits for a Beast frame in progress.
// Everything here runs on the session's strand.
#include <cstddef>
#include <memory>
#include <utility>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace psig::ws {

class gated_socket {
 public:
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;
  using next_layer_type = socket_type;

  explicit gated_socket(socket_type s) : socket_(std::move(s)) {}

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  // Beast closes the lowest layer on a handshake timeout; the session writes to it directly.
  socket_type& next_layer() noexcept { return socket_; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return socket_.async_read_some(buffers, std::forward<Token>(token));
  }

  // Beast's writes (handshake response, pong, close): held while the session's write runs.
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) {
          if (!session_writing_) {
            start_beast_write(b, std::move(handler));
            return;
          }
          held_beast_ = make_deferred([this, b, h = std::move(handler)]() mutable {
            start_beast_write(b, std::move(h));
          });
        },
        token, buffers);
  }

  // The session's side: whether to wait, the wait, and the bracket around its write.
  bool beast_writing() const noexcept { return beast_writing_; }
  template <class Token>
  auto async_wait_beast(Token&& token) {
    return boost::asio::async_initiate<Token, void()>(
        [this](auto handler) {
          waiting_session_ = make_deferred([h = std::move(handler)]() mutable { std::move(h)(); });
        },
        token);
  }
  void begin_session_write() noexcept { session_writing_ = true; }
  void end_session_write() {
    session_writing_ = false;
    if (held_beast_) std::exchange(held_beast_, nullptr)->run();
  }

 private:
  struct deferred {
    virtual ~deferred() = default;
    virtual void run() = 0;
  };
  template <class F>
  static std::unique_ptr<deferred> make_deferred(F f) {
    struct impl final : deferred {
      explicit impl(F g) : f(std::move(g)) {}
      void run() override { f(); }
      F f;
    };
    return std::make_unique<impl>(std::move(f));
  }

  // Completes Beast's write_some and opens the gate once its frame is written. Beast's control
  // frames and the handshake response are small: a write_some that takes every byte it was
  // given ends the frame.
  template <class Handler>
  struct beast_write_done {
    gated_socket* self;
    std::size_t size;
    Handler handler;

    using executor_type = boost::asio::associated_executor_t<Handler, gated_socket::executor_type>;
    executor_type get_executor() const noexcept {
      return boost::asio::get_associated_executor(handler, self->socket_.get_executor());
    }
    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    allocator_type get_allocator() const noexcept { return boost::asio::get_associated_allocator(handler); }

    void operator()(boost::system::error_code ec, std::size_t n) {
      if (ec || n >= size) self->beast_done();
      std::move(handler)(ec, n);
    }
  };

  template <class Buffers, class Handler>
  void start_beast_write(const Buffers& b, Handler&& h) {
    beast_writing_ = true;
    socket_.async_write_some(
        b, beast_write_done<std::decay_t<Handler>>{this, boost::asio::buffer_size(b), std::forward<Handler>(h)});
  }

  void beast_done() {
    beast_writing_ = false;
    if (waiting_session_) {
      boost::asio::post(socket_.get_executor(),
                        [d = std::exchange(waiting_session_, nullptr)] { d->run(); });
    }
  }

  socket_type socket_;
  bool session_writing_ = false;
  bool beast_writing_ = false;
  std::unique_ptr<deferred> held_beast_;
  std::unique_ptr<deferred> waiting_session_;
};

// Beast finds these by argument-dependent lookup: tear down the TCP socket underneath.
inline void teardown(boost::beast::role_type role, gated_socket& s, boost::system::error_code& ec) {
  boost::beast::websocket::teardown(role, s.next_layer(), ec);
}

template <class Handler>
void async_teardown(boost::beast::role_type role, gated_socket& s, Handler&& handler) {
  boost::beast::websocket::async_teardown(role, s.next_layer(), std::forward<Handler>(handler));
}

}  // namespace psig::ws
