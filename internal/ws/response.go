package ws

import "strconv"

// AppendUpgradeResponse appends the 101 Switching Protocols that accepts
// req (a TargetUpgrade): no extension and no subprotocol is agreed, so the
// frames that follow are plain RFC 6455 frames.
func AppendUpgradeResponse(b []byte, req *Request) []byte {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, req.Accept[:]...)
	return append(b, "\r\n\r\n"...)
}

// AppendErrorResponse appends the answer to a refused request: e's status,
// its reason as a short text body, and Connection: close (the caller closes
// the connection once it is written). A 426 names the version served
// (Sec-WebSocket-Version: 13, RFC 6455 4.4) and a 405 the method (Allow:
// GET). Any status may be given, for refusals decided outside the parser
// (503 while draining, 429 over a per-IP limit).
func AppendErrorResponse(b []byte, e *HTTPError) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = append(b, statusText(e.Status)...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n"...)
	switch e.Status {
	case 426:
		b = append(b, "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"...)
	case 405:
		b = append(b, "Allow: GET\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(e.Reason)+1), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, e.Reason...)
	return append(b, '\n')
}

func statusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	}
	return "Error"
}
