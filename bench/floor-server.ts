/**
 * The floor: the least a server can do for this chat and still be a chat server. A bare `ws`
 * server that routes raw JSON frames between the two users of a chat: no GraphQL, no auth, no
 * storage, no protocol beyond {"t":"join","c":room} and {"t":"ev","c":room,...}, which it forwards
 * unchanged to the other members of the room.
 *
 * PORT and HOST from the environment; answers GET /healthz.
 */
import http from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'

const rooms = new Map<string, Set<WebSocket>>()

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' })
  res.end('{"status":"ok"}')
})
const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 })

wss.on('connection', (socket) => {
  const joined: string[] = []
  socket.on('message', (data, isBinary) => {
    if (isBinary) return
    let frame: { t?: unknown; c?: unknown }
    try {
      // ws's default binaryType ('nodebuffer'): each message arrives as one Buffer
      frame = JSON.parse((data as Buffer).toString()) as typeof frame
    } catch {
      return
    }
    if (typeof frame.c !== 'string') return
    if (frame.t === 'join') {
      let room = rooms.get(frame.c)
      if (!room) rooms.set(frame.c, (room = new Set()))
      room.add(socket)
      joined.push(frame.c)
    } else if (frame.t === 'ev') {
      for (const member of rooms.get(frame.c) ?? []) if (member !== socket) member.send(data, { binary: false })
    }
  })
  socket.on('close', () => {
    for (const c of joined) {
      const room = rooms.get(c)
      room?.delete(socket)
      if (room?.size === 0) rooms.delete(c)
    }
  })
})

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1')
