"""The SIP message layer of `trunkline switch`: pure functions, no I/O.

`message` parses requests (`parse_request`, `frame_length` for TCP streams, `parse_digest`) and builds responses
(`build_response`); `redirect` builds the 302 with one Contact per gateway; `nonce` issues and checks the stateless
digest nonces of the 407 challenge. The transactions and servers above them own the sockets.
"""
