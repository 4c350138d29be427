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
-- Then trilink's own J-word layout (us.md section 5) is shown as "trilink US message":
-- trilink_us.kind, origin, mode, observed / time (GPS µs), system, sensor, national_message_id,
-- track_id / component, ECEF x/y/z (cm) and generated lat_deg / lon_deg / alt_m. Not done: these
-- contents are read, not checked (no error codes), and velocities, uncertainties, classes and
-- references are not shown (use `trilink decode` for them).

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

local proto = Proto("trilink_us", "trilink US message (J-word contents)")
local kinds = { [30] = "impact_or_launch", [36] = "track_update", [70] = "event_end",
    [71] = "cancel", [72] = "correction", [135] = "status" }
local nations = { [0] = "jp", [1] = "kr", [2] = "us" }
local modes = { [0] = "real_world", [1] = "exercise", [2] = "test" }
local pf = {
    kind = ProtoField.string("trilink_us.kind", "Common payload kind"),
    origin = ProtoField.string("trilink_us.origin", "Origin"),
    mode = ProtoField.string("trilink_us.mode", "Mode"),
    observed = ProtoField.uint64("trilink_us.observed", "observed_at (GPS µs since 1980-01-06)"),
    time = ProtoField.uint64("trilink_us.time", "Payload time (GPS µs since 1980-01-06)"),
    system = ProtoField.string("trilink_us.system", "System"),
    sensor = ProtoField.string("trilink_us.sensor", "Sensor"),
    national_message_id = ProtoField.string("trilink_us.national_message_id", "National message id"),
    track_id = ProtoField.string("trilink_us.track_id", "Track id"),
    component = ProtoField.string("trilink_us.component", "Component"),
    x = ProtoField.int32("trilink_us.x", "ECEF x (cm)"),
    y = ProtoField.int32("trilink_us.y", "ECEF y (cm)"),
    z = ProtoField.int32("trilink_us.z", "ECEF z (cm)"),
    lat_deg = ProtoField.double("trilink_us.lat_deg", "Latitude (degrees)"),
    lon_deg = ProtoField.double("trilink_us.lon_deg", "Longitude (degrees)"),
    alt_m = ProtoField.double("trilink_us.alt_m", "Altitude (m)"),
}
proto.fields = pf

local function le(str, off, n) -- unsigned little-endian from a Lua string (1-based off)
    local v = 0
    for k = n - 1, 0, -1 do v = v * 256 + str:byte(off + k) end
    return v
end
local function le_i32(str, off)
    local v = le(str, off, 4)
    if v >= 2147483648 then v = v - 4294967296 end
    return v
end

-- WGS84 ECEF (m) -> geodetic (us.md section 6: closed form start, three fixed-point iterations)
local A, F = 6378137.0, 1 / 298.257223563
local E2 = F * (2 - F)
local function ecef_to_geodetic(x, y, z)
    local p = math.sqrt(x * x + y * y)
    local lon = math.atan2(y, x)
    local phi = math.atan2(z, p * (1 - E2))
    local h = 0
    for _ = 1, 6 do
        local s = math.sin(phi)
        local n = A / math.sqrt(1 - E2 * s * s)
        phi = math.atan2(z + E2 * n * s, p)
    end
    local s, c = math.sin(phi), math.cos(phi)
    h = p * c + z * s - A * math.sqrt(1 - E2 * s * s)
    return math.deg(phi), math.deg(lon), h
end

local function add_words(tvb, pinfo, root, length)
    local n_words = (length - 30) / 10
    local hdr = tvb(28, 2):le_uint()
    local label = bit32.band(bit32.rshift(hdr, 2), 0x1F)
    local sublabel = bit32.band(bit32.rshift(hdr, 7), 0x07)
    local mli = bit32.band(bit32.rshift(hdr, 10), 0x07)
    if mli + 2 > n_words then return end
    local t = root:add(proto, tvb(0, length))
    local env = tvb(30, 8):raw()
    local b0 = env:byte(1)
    local body, text = {}, {}
    for w = 1, mli do body[#body + 1] = tvb(28 + 10 * w + 2, 8):raw() end
    for w = mli + 1, n_words - 1 do text[#text + 1] = tvb(28 + 10 * w + 2, 8):raw() end
    body, text = table.concat(body), table.concat(text)
    local key = label * 10 + sublabel
    local kind = kinds[key] or ("J" .. label .. "." .. sublabel)
    if key == 30 and #body >= 1 then kind = body:byte(1) == 1 and "launch_detection" or "impact_prediction" end
    t:add(pf.kind, tvb(28, 2), kind)
    t:add(pf.origin, tvb(30, 1), nations[bit32.band(b0, 3)] or "invalid")
    t:add(pf.mode, tvb(30, 1), modes[bit32.band(bit32.rshift(b0, 2), 3)] or "invalid")
    t:add(pf.observed, tvb(31, 7), UInt64.new(le(env, 2, 7) % 4294967296, math.floor(le(env, 2, 7) / 4294967296)))
    -- text area: system, sensor, national id (u8 prefixes), track id / component, ...
    local pos = 1
    local function str8(field)
        if pos > #text then return nil end
        local n = text:byte(pos)
        local v = text:sub(pos + 1, pos + n)
        t:add(field, tvb(28, length - 30), v)
        pos = pos + 1 + n
        return v
    end
    str8(pf.system); str8(pf.sensor)
    local nmid = str8(pf.national_message_id)
    local tid = str8(kind == "status" and pf.component or pf.track_id)
    -- body time and position
    local toff, poff
    if kind == "launch_detection" then toff, poff = 7, 15
    elseif kind == "impact_prediction" or kind == "track_update" or kind == "event_end" then toff, poff = 3, 11
    elseif kind == "correction" then toff, poff = 3, 11 end
    if toff and #body >= poff + 11 then
        local tv = le(body, toff, 8)
        t:add(pf.time, tvb(28, length - 30), UInt64.new(tv % 4294967296, math.floor(tv / 4294967296)))
        local x, y, z = le_i32(body, poff), le_i32(body, poff + 4), le_i32(body, poff + 8)
        if not (x == 0 and y == 0 and z == 0) then
            t:add(pf.x, tvb(28, length - 30), x); t:add(pf.y, tvb(28, length - 30), y); t:add(pf.z, tvb(28, length - 30), z)
            local lat, lon, alt = ecef_to_geodetic(x / 100, y / 100, z / 100)
            t:add(pf.lat_deg, tvb(28, length - 30), lat):set_generated()
            t:add(pf.lon_deg, tvb(28, length - 30), lon):set_generated()
            t:add(pf.alt_m, tvb(28, length - 30), alt):set_generated()
            t:append_text(string.format(", %.7f°, %.7f°, %.2f m", lat, lon, alt))
        end
    end
    t:append_text(": " .. kind .. (tid and (" " .. tid) or "") .. (nmid and (" id=" .. nmid) or ""))
end

local function heuristic(tvb, pinfo, tree)
    if not looks_like_trilink_simple(tvb) then return false end
    simple:call(tvb, pinfo, tree)
    local length = tvb(2, 2):le_uint()
    if tvb:len() >= length then add_words(tvb, pinfo, tree, length) end
    return true
end

proto:register_heuristic("tcp", heuristic)
proto:register_heuristic("udp", heuristic)
