-- trilink_us.lua: hands trilink's US national traffic (SIMPLE / STANAG 5602 packets carrying
-- Link-16-style J-words, schemas/national/us.md) to Wireshark's own SIMPLE and Link 16
-- dissectors, which show the SIMPLE header, the checksum (simple.checksum.status) and each
-- J-word's format, label and sublabel (link16.label / link16.sublabel).
--
-- Registered as TCP and UDP heuristics, so it finds trilink's SIMPLE packets on its default
-- ports — TCP 5601 (adapter-us stream ingress, the scenario captures) and UDP 5602 (adapter-us
-- datagram ingress) — and on any other port: sync 0x49 0x36, packet type 1 (Link 16), length
-- 30 + 10·N with 2 ≤ N ≤ 48, packet size (length − 8)/2. (Adding Wireshark's "simple" handle
-- to tcp.port/udp.port from Lua makes Wireshark warn that it is already registered there for
-- Decode As, so the ports are covered by the heuristic instead.)
--
-- Not done here: the data bits inside the J-words use trilink's own layout (us.md section 5),
-- which Wireshark's Link 16 dissector does not know; track ids, positions and times are not
-- dissected (use `trilink decode` for them).

local simple = Dissector.get("simple")

local function looks_like_trilink_simple(tvb)
    local n = tvb:len()
    if n < 30 then return false end
    if tvb(0, 1):uint() ~= 0x49 or tvb(1, 1):uint() ~= 0x36 then return false end
    local length = tvb(2, 2):le_uint()
    if length < 50 or length > 510 or (length - 30) % 10 ~= 0 then return false end
    if tvb(10, 1):uint() ~= (length - 8) / 2 then return false end
    if tvb(11, 1):uint() ~= 1 then return false end
    return true
end

local function heuristic(tvb, pinfo, tree)
    if not looks_like_trilink_simple(tvb) then return false end
    simple:call(tvb, pinfo, tree)
    return true
end

local proto = Proto("trilink_us", "trilink US SIMPLE (heuristic)")
proto:register_heuristic("tcp", heuristic)
proto:register_heuristic("udp", heuristic)
