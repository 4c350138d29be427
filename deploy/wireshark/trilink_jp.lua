-- trilink_jp.lua: Wireshark dissector for trilink's JP reference national format, version 1
-- (schemas/national/jp.md). One frame per UDP datagram; big-endian; CRC-16/IBM-3740 trailer.
--
-- Registered on UDP ports 5500 (trilink's scenario captures) and 7000 (the shipped
-- deploy/etc/trilink/adapter-jp.toml ingress), plus a UDP heuristic ("JP" sync, version 1,
-- length = datagram length) for any other port. Add ports with Decode As… (trilink_jp) or in
-- the protocol preferences.
--
-- Field names follow the spec (section 3 and 4): trilink_jp.<field>. Fixed-point fields keep
-- their wire integer (the spec's units: 1e-7 degree, cm, mm/s, 1e-4, 0.01 degree, µs) and show
-- the scaled value in their label; times of day (µs since JST midnight) show HH:MM:SS.ffffff JST.
-- Errors are reported with the spec's error codes (section 10) as expert info.

local jp = Proto("trilink_jp", "trilink JP national format")

local MAX_FRAME_LEN = 1024

local msg_types = {
    [1] = "launch_detection", [2] = "track_update", [3] = "impact_prediction",
    [4] = "event_end", [5] = "cancel", [6] = "correction", [7] = "status",
}
local nations = { [1] = "jp", [2] = "kr", [3] = "us" }
local modes = { [1] = "real_world", [2] = "exercise", [3] = "test" }
local missile_classes = {
    [1] = "srbm", [2] = "mrbm", [3] = "irbm", [4] = "icbm", [5] = "slbm", [6] = "unknown",
}
local flight_phases = { [1] = "boost", [2] = "midcourse", [3] = "terminal", [4] = "unknown" }
local end_reasons = { [1] = "impact", [2] = "lost", [3] = "other" }
local states = { [1] = "ok", [2] = "degraded", [3] = "down" }
local checksum_status = { [0] = "Bad", [1] = "Good", [2] = "Unverified" }

local f = jp.fields
local function add(name, pf) f[name] = pf; return pf end

-- header
local pf_sync = add("sync", ProtoField.bytes("trilink_jp.sync", "Sync"))
local pf_version = add("version", ProtoField.uint8("trilink_jp.version", "Version"))
local pf_msg_type = add("msg_type", ProtoField.uint8("trilink_jp.msg_type", "Message type", base.DEC, msg_types))
local pf_length = add("length", ProtoField.uint16("trilink_jp.length", "Length", base.DEC))
local pf_sequence = add("sequence", ProtoField.uint32("trilink_jp.sequence", "Sequence", base.DEC))
-- envelope section
local pf_origin = add("origin", ProtoField.uint8("trilink_jp.origin", "Origin", base.DEC, nations))
local pf_mode = add("mode", ProtoField.uint8("trilink_jp.mode", "Mode", base.DEC, modes))
local pf_rel = add("releasability", ProtoField.uint8("trilink_jp.releasability", "Releasability", base.HEX))
local pf_rel_jp = add("rel_jp", ProtoField.bool("trilink_jp.releasability.jp", "jp", 8, nil, 0x01))
local pf_rel_kr = add("rel_kr", ProtoField.bool("trilink_jp.releasability.kr", "kr", 8, nil, 0x02))
local pf_rel_us = add("rel_us", ProtoField.bool("trilink_jp.releasability.us", "us", 8, nil, 0x04))
local pf_rel_res = add("rel_res", ProtoField.uint8("trilink_jp.releasability.reserved", "Reserved", base.HEX, nil, 0xF8))
local pf_ref_count = add("ref_count", ProtoField.uint8("trilink_jp.ref_count", "Reference count"))
local pf_observed_tod = add("observed_tod", ProtoField.uint64("trilink_jp.observed_tod", "Observed time of day (µs since JST midnight)"))
local pf_system = add("system", ProtoField.string("trilink_jp.system", "System", base.UNICODE))
local pf_sensor = add("sensor", ProtoField.string("trilink_jp.sensor", "Sensor", base.UNICODE))
local pf_nmid = add("national_message_id", ProtoField.string("trilink_jp.national_message_id", "National message id", base.UNICODE))
local pf_reference = add("reference", ProtoField.guid("trilink_jp.reference", "Reference"))
-- bodies
local pf_body = add("body", ProtoField.none("trilink_jp.body", "Body"))
local pf_track_id = add("track_id", ProtoField.string("trilink_jp.track_id", "Track id"))
local pf_len8 = add("text_length", ProtoField.uint8("trilink_jp.text_length", "Length (bytes)"))
local pf_len16 = add("text_length16", ProtoField.uint16("trilink_jp.text_length16", "Length (bytes)"))

local tod_fields, lat_fields, lon_fields, alt_fields = {}, {}, {}, {}
for _, n in ipairs({ "launch_tod", "track_tod", "impact_tod", "end_tod", "corrected_tod" }) do
    tod_fields[n] = add(n, ProtoField.uint64("trilink_jp." .. n, n .. " (µs since JST midnight)"))
end
for _, p in ipairs({ "launch_", "", "impact_", "final_", "corrected_" }) do
    lat_fields[p] = add(p .. "lat", ProtoField.int32("trilink_jp." .. p .. "lat", p .. "lat (1e-7 degree)"))
    lon_fields[p] = add(p .. "lon", ProtoField.int32("trilink_jp." .. p .. "lon", p .. "lon (1e-7 degree)"))
    alt_fields[p] = add(p .. "alt", ProtoField.int32("trilink_jp." .. p .. "alt", p .. "alt (cm)"))
end
local pf_unc_h = add("unc_h", ProtoField.uint32("trilink_jp.unc_h", "unc_h (cm)"))
local pf_unc_v = add("unc_v", ProtoField.uint32("trilink_jp.unc_v", "unc_v (cm)"))
local pf_missile_class = add("missile_class", ProtoField.uint8("trilink_jp.missile_class", "Missile class", base.DEC, missile_classes))
local pf_confidence = add("confidence", ProtoField.uint16("trilink_jp.confidence", "Confidence (1e-4)"))
local pf_vel_e = add("vel_e", ProtoField.int32("trilink_jp.vel_e", "vel_e (mm/s)"))
local pf_vel_n = add("vel_n", ProtoField.int32("trilink_jp.vel_n", "vel_n (mm/s)"))
local pf_vel_u = add("vel_u", ProtoField.int32("trilink_jp.vel_u", "vel_u (mm/s)"))
local pf_quality = add("quality", ProtoField.uint8("trilink_jp.quality", "Quality (0-15)"))
local pf_flight_phase = add("flight_phase", ProtoField.uint8("trilink_jp.flight_phase", "Flight phase", base.DEC, flight_phases))
local pf_semi_major = add("semi_major", ProtoField.uint32("trilink_jp.semi_major", "semi_major (cm)"))
local pf_semi_minor = add("semi_minor", ProtoField.uint32("trilink_jp.semi_minor", "semi_minor (cm)"))
local pf_orientation = add("orientation", ProtoField.uint16("trilink_jp.orientation", "orientation (0.01 degree)"))
local pf_end_reason = add("end_reason", ProtoField.uint8("trilink_jp.end_reason", "End reason", base.DEC, end_reasons))
local pf_end_flags = add("end_flags", ProtoField.uint8("trilink_jp.end_flags", "End flags", base.HEX))
local pf_end_final = add("end_flags_final", ProtoField.bool("trilink_jp.end_flags.final_point", "Final point present", 8, nil, 0x01))
local pf_reason = add("reason", ProtoField.string("trilink_jp.reason", "Reason", base.UNICODE))
local pf_corr_flags = add("correction_flags", ProtoField.uint8("trilink_jp.correction_flags", "Correction flags", base.HEX))
local pf_corr_time = add("corr_time", ProtoField.bool("trilink_jp.correction_flags.time", "Corrected time", 8, nil, 0x01))
local pf_corr_point = add("corr_point", ProtoField.bool("trilink_jp.correction_flags.point", "Corrected point", 8, nil, 0x02))
local pf_corr_class = add("corr_class", ProtoField.bool("trilink_jp.correction_flags.class", "Corrected class", 8, nil, 0x04))
local pf_corrected_class = add("corrected_class", ProtoField.uint8("trilink_jp.corrected_class", "Corrected class", base.DEC, missile_classes))
local pf_component = add("component", ProtoField.string("trilink_jp.component", "Component", base.UNICODE))
local pf_state = add("state", ProtoField.uint8("trilink_jp.state", "State", base.DEC, states))
local pf_uptime = add("uptime", ProtoField.uint64("trilink_jp.uptime", "Uptime (µs)"))
local pf_detail = add("detail", ProtoField.string("trilink_jp.detail", "Detail", base.UNICODE))
-- trailer
local pf_crc = add("crc", ProtoField.uint16("trilink_jp.crc", "CRC", base.HEX))
local pf_crc_status = add("crc_status", ProtoField.uint8("trilink_jp.crc.status", "CRC status", base.DEC, checksum_status))
local pf_crc_calc = add("crc_calculated", ProtoField.uint16("trilink_jp.crc.calculated", "Calculated CRC", base.HEX))
local pf_error = add("error", ProtoField.string("trilink_jp.error", "Decode error"))

local ef_error = ProtoExpert.new("trilink_jp.error.expert", "trilink JP decode error", expert.group.MALFORMED, expert.severity.ERROR)
local ef_bad_checksum = ProtoExpert.new("trilink_jp.bad_checksum", "bad_checksum: CRC-16/IBM-3740 mismatch", expert.group.CHECKSUM, expert.severity.ERROR)
jp.experts = { ef_error, ef_bad_checksum }

-- CRC-16/IBM-3740 (poly 0x1021, init 0xFFFF, no reflection, no xorout).
local crc_table = {}
for i = 0, 255 do
    local c = bit32.lshift(i, 8)
    for _ = 1, 8 do
        if bit32.band(c, 0x8000) ~= 0 then
            c = bit32.band(bit32.bxor(bit32.lshift(c, 1), 0x1021), 0xFFFF)
        else
            c = bit32.band(bit32.lshift(c, 1), 0xFFFF)
        end
    end
    crc_table[i] = c
end
local function crc16(tvb, offset, len)
    local crc = 0xFFFF
    local bytes = tvb:bytes(offset, len)
    for i = 0, len - 1 do
        local idx = bit32.bxor(bit32.rshift(crc, 8), bytes:get_index(i))
        crc = bit32.band(bit32.bxor(bit32.lshift(crc, 8), crc_table[idx]), 0xFFFF)
    end
    return crc
end

-- strict UTF-8 check (no overlongs, no surrogates, ≤ U+10FFFF)
local function valid_utf8(s)
    local i, n = 1, #s
    while i <= n do
        local c = s:byte(i)
        local len, lo, hi = 0, 0x80, 0xBF
        if c < 0x80 then len = 1
        elseif c >= 0xC2 and c <= 0xDF then len = 2
        elseif c >= 0xE0 and c <= 0xEF then
            len = 3
            if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
        elseif c >= 0xF0 and c <= 0xF4 then
            len = 4
            if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
        else return false end
        if i + len - 1 > n then return false end
        for k = 1, len - 1 do
            local b = s:byte(i + k)
            if k == 1 then
                if b < lo or b > hi then return false end
            elseif b < 0x80 or b > 0xBF then return false end
        end
        i = i + len
    end
    return true
end

local US_PER_DAY = 86400000000
local function tod_text(v)
    -- v: UInt64 (µs since JST midnight)
    local n = v:tonumber()
    if n >= US_PER_DAY then return "out of range" end
    local s = math.floor(n / 1000000)
    local us = n - s * 1000000
    return string.format("%02d:%02d:%02d.%06d JST", math.floor(s / 3600), math.floor(s / 60) % 60, s % 60, us)
end

-- A cursor over the frame: reads fields in wire order and stops at the first error.
local Cursor = {}
Cursor.__index = Cursor

local function new_cursor(tvb, pinfo, tree, offset, limit)
    return setmetatable({ tvb = tvb, pinfo = pinfo, tree = tree, off = offset, limit = limit, err = nil }, Cursor)
end

function Cursor:fail(code, text)
    if self.err then return end
    self.err = code
    local item = self.tree:add(pf_error, code)
    item:set_generated()
    item:add_proto_expert_info(ef_error, code .. ": " .. text)
end

function Cursor:need(n)
    if self.err then return false end
    if self.off + n > self.limit then
        self:fail("bad_length", "field runs past length - 2")
        return false
    end
    return true
end

function Cursor:enum(tree, pf, names, name)
    if not self:need(1) then return nil end
    local r = self.tvb(self.off, 1)
    local v = r:uint()
    local item = tree:add(pf, r)
    self.off = self.off + 1
    if names and not names[v] then
        item:add_proto_expert_info(ef_error, "field_out_of_range: " .. name .. " = " .. v)
        self:fail("field_out_of_range", name .. " = " .. v)
        return nil
    end
    return v
end

function Cursor:text(tree, pf, lensize, limit, name)
    if not self:need(lensize) then return nil end
    local lr = self.tvb(self.off, lensize)
    local n = lr:uint()
    if n > limit then
        tree:add(lensize == 1 and pf_len8 or pf_len16, lr)
        self:fail("field_out_of_range", name .. " length " .. n .. " > " .. limit)
        return nil
    end
    if not self:need(lensize + n) then return nil end
    local r = self.tvb(self.off, lensize + n)
    local raw = n > 0 and self.tvb(self.off + lensize, n):raw() or ""
    local ok = valid_utf8(raw)
    local s = ok and raw or (n > 0 and self.tvb(self.off + lensize, n):string(ENC_UTF_8) or "")
    local item = tree:add(pf, r, s)
    item:add(lensize == 1 and pf_len8 or pf_len16, lr)
    self.off = self.off + lensize + n
    if not ok then
        self:fail("bad_text", name .. " is not UTF-8")
        return nil
    end
    return s
end

function Cursor:track_id(tree)
    if not self:need(1) then return nil end
    local lr = self.tvb(self.off, 1)
    local n = lr:uint()
    if n < 1 or n > 32 then
        tree:add(pf_len8, lr)
        self:fail("field_out_of_range", "track_id length " .. n)
        return nil
    end
    if not self:need(1 + n) then return nil end
    local s = self.tvb(self.off + 1, n):string()
    local item = tree:add(pf_track_id, self.tvb(self.off, 1 + n), s)
    item:add(pf_len8, lr)
    self.off = self.off + 1 + n
    if not s:match("^[A-Za-z0-9_%-]+$") then
        self:fail("bad_text", "track_id character outside [A-Za-z0-9_-]")
        return nil
    end
    return s
end

function Cursor:tod(tree, pf, name)
    if not self:need(8) then return nil end
    local r = self.tvb(self.off, 8)
    local v = r:uint64()
    local item = tree:add(pf, r)
    item:append_text(" (" .. tod_text(v) .. ")")
    self.off = self.off + 8
    if v:tonumber() >= US_PER_DAY then
        self:fail("field_out_of_range", name .. " >= 86 400 000 000")
        return nil
    end
    return v
end

function Cursor:point(tree, prefix)
    if not self:need(12) then return nil end
    local t = tree:add(jp, self.tvb(self.off, 12), "Point (" .. (prefix == "" and "position" or prefix:sub(1, -2)) .. ")")
    local lat = self.tvb(self.off, 4):int()
    local lon = self.tvb(self.off + 4, 4):int()
    local alt = self.tvb(self.off + 8, 4):int()
    t:add(lat_fields[prefix], self.tvb(self.off, 4)):append_text(string.format(" (%.7f°)", lat / 1e7))
    t:add(lon_fields[prefix], self.tvb(self.off + 4, 4)):append_text(string.format(" (%.7f°)", lon / 1e7))
    t:add(alt_fields[prefix], self.tvb(self.off + 8, 4)):append_text(string.format(" (%.2f m)", alt / 100))
    t:append_text(string.format(": %.7f°, %.7f°, %.2f m", lat / 1e7, lon / 1e7, alt / 100))
    self.off = self.off + 12
    if lat < -900000000 or lat > 900000000 then self:fail("field_out_of_range", "lat") return nil end
    if lon < -1800000000 or lon > 1800000000 then self:fail("field_out_of_range", "lon") return nil end
    if alt < -100000 or alt > 1000000000 then self:fail("field_out_of_range", "alt") return nil end
    return true
end

function Cursor:num(tree, pf, size, kind, lo, hi, name, fmt, scale)
    if not self:need(size) then return nil end
    local r = self.tvb(self.off, size)
    local v = kind == "i" and r:int() or r:uint()
    local item = tree:add(pf, r)
    if fmt then item:append_text(string.format(fmt, v / scale)) end
    self.off = self.off + size
    if v < lo or v > hi then self:fail("field_out_of_range", name .. " = " .. v) return nil end
    return v
end

function Cursor:flags(tree, pf, bits, mask, name)
    if not self:need(1) then return nil end
    local r = self.tvb(self.off, 1)
    local v = r:uint()
    local item = tree:add(pf, r)
    for _, b in ipairs(bits) do item:add(b, r) end
    self.off = self.off + 1
    if bit32.band(v, bit32.bnot(mask)) ~= 0 then self:fail("field_out_of_range", name .. " reserved bits set") return nil end
    return v
end

local function cm(c, t, pf, name) return c:num(t, pf, 4, "u", 0, 1000000000, name, " (%.2f m)", 100) end
local function vel(c, t, pf, name) return c:num(t, pf, 4, "i", -12000000, 12000000, name, " (%.3f m/s)", 1000) end

local bodies = {}
bodies[1] = function(c, t)
    local tid = c:track_id(t)
    c:tod(t, tod_fields.launch_tod, "launch_tod")
    c:point(t, "launch_")
    cm(c, t, pf_unc_h, "unc_h"); cm(c, t, pf_unc_v, "unc_v")
    c:enum(t, pf_missile_class, missile_classes, "missile_class")
    c:num(t, pf_confidence, 2, "u", 0, 10000, "confidence", " (%.4f)", 10000)
    return tid
end
bodies[2] = function(c, t)
    local tid = c:track_id(t)
    c:tod(t, tod_fields.track_tod, "track_tod")
    c:point(t, "")
    cm(c, t, pf_unc_h, "unc_h"); cm(c, t, pf_unc_v, "unc_v")
    vel(c, t, pf_vel_e, "vel_e"); vel(c, t, pf_vel_n, "vel_n"); vel(c, t, pf_vel_u, "vel_u")
    c:num(t, pf_quality, 1, "u", 0, 15, "quality")
    c:enum(t, pf_flight_phase, flight_phases, "flight_phase")
    return tid
end
bodies[3] = function(c, t)
    local tid = c:track_id(t)
    c:tod(t, tod_fields.impact_tod, "impact_tod")
    c:point(t, "impact_")
    cm(c, t, pf_semi_major, "semi_major"); cm(c, t, pf_semi_minor, "semi_minor")
    c:num(t, pf_orientation, 2, "u", 0, 18000, "orientation", " (%.2f°)", 100)
    return tid
end
bodies[4] = function(c, t)
    local tid = c:track_id(t)
    c:tod(t, tod_fields.end_tod, "end_tod")
    c:enum(t, pf_end_reason, end_reasons, "end_reason")
    local fl = c:flags(t, pf_end_flags, { pf_end_final }, 0x01, "end_flags")
    if fl and bit32.band(fl, 1) ~= 0 then c:point(t, "final_") end
    return tid
end
bodies[5] = function(c, t)
    local tid = c:track_id(t)
    c:text(t, pf_reason, 2, 256, "reason")
    return tid
end
bodies[6] = function(c, t)
    local tid = c:track_id(t)
    c:text(t, pf_reason, 2, 256, "reason")
    local fl = c:flags(t, pf_corr_flags, { pf_corr_time, pf_corr_point, pf_corr_class }, 0x07, "correction_flags")
    if fl then
        if bit32.band(fl, 1) ~= 0 then c:tod(t, tod_fields.corrected_tod, "corrected_tod") end
        if bit32.band(fl, 2) ~= 0 then c:point(t, "corrected_") end
        if bit32.band(fl, 4) ~= 0 then c:enum(t, pf_corrected_class, missile_classes, "corrected_class") end
    end
    return tid
end
bodies[7] = function(c, t)
    local comp = c:text(t, pf_component, 1, 64, "component")
    c:enum(t, pf_state, states, "state")
    if c:need(8) then
        local r = c.tvb(c.off, 8)
        local v = r:uint64()
        t:add(pf_uptime, r):append_text(string.format(" (%.6f s)", v:tonumber() / 1e6))
        c.off = c.off + 8
        if v:tonumber() > 1e15 then c:fail("field_out_of_range", "uptime > 10^15") end
    end
    c:text(t, pf_detail, 2, 256, "detail")
    return comp
end

-- Dissects one frame at the start of tvb; returns the number of bytes consumed (0 = not ours).
local function dissect(tvb, pinfo, root)
    local avail = tvb:len()
    if avail < 2 or tvb(0, 2):uint() ~= 0x4A50 then return 0 end
    pinfo.cols.protocol = "TRILINK-JP"
    local tree = root:add(jp, tvb())
    tree:add(pf_sync, tvb(0, 2))
    local c = new_cursor(tvb, pinfo, tree, 0, avail)
    if avail < 10 then
        c:fail("truncated", "datagram shorter than the 10-byte header")
        pinfo.cols.info = "trilink JP truncated"
        return avail
    end
    local version = tvb(2, 1):uint()
    local mt = tvb(3, 1):uint()
    local length = tvb(4, 2):uint()
    tree:add(pf_version, tvb(2, 1))
    tree:add(pf_msg_type, tvb(3, 1))
    tree:add(pf_length, tvb(4, 2))
    tree:add(pf_sequence, tvb(6, 4))
    local info = "JP " .. (msg_types[mt] or ("type " .. mt))
    pinfo.cols.info = info
    if length > MAX_FRAME_LEN then c:fail("oversize", "length " .. length .. " > 1024") return avail end
    if length < 12 then c:fail("bad_length", "length " .. length .. " < 12") return avail end
    if avail < length then c:fail("truncated", "datagram shorter than length " .. length) return avail end
    tree:set_len(length)

    -- CRC (step 5)
    local crc_r = tvb(length - 2, 2)
    local crc_wire = crc_r:uint()
    local crc_calc = crc16(tvb, 0, length - 2)
    local function add_crc()
        local crc_item = tree:add(pf_crc, crc_r)
        crc_item:add(pf_crc_status, crc_r, crc_wire == crc_calc and 1 or 0):set_generated()
        crc_item:add(pf_crc_calc, crc_r, crc_calc):set_generated()
        if crc_wire ~= crc_calc then
            crc_item:append_text(string.format(" [incorrect, should be 0x%04x]", crc_calc))
            crc_item:add_proto_expert_info(ef_bad_checksum)
        else
            crc_item:append_text(" [correct]")
        end
    end
    if crc_wire ~= crc_calc then
        add_crc()
        c:fail("bad_checksum", "CRC mismatch")
        pinfo.cols.info = info .. " [bad_checksum]"
        return length
    end
    if version ~= 1 then add_crc() c:fail("unsupported_version", "version " .. version) return length end
    if not msg_types[mt] then add_crc() c:fail("unknown_type", "msg_type " .. mt) return length end

    -- envelope section (step 8)
    c.off = 10
    c.limit = length - 2
    local env = tree:add(jp, tvb(10, length - 12), "Envelope section")
    c:enum(env, pf_origin, nations, "origin")
    c:enum(env, pf_mode, modes, "mode")
    c:flags(env, pf_rel, { pf_rel_jp, pf_rel_kr, pf_rel_us, pf_rel_res }, 0x07, "releasability")
    local refs = c:num(env, pf_ref_count, 1, "u", 0, 16, "ref_count")
    local obs = c:tod(env, pf_observed_tod, "observed_tod")
    c:text(env, pf_system, 1, 64, "system")
    c:text(env, pf_sensor, 1, 64, "sensor")
    local nmid = c:text(env, pf_nmid, 1, 128, "national_message_id")
    if refs then
        for _ = 1, refs do
            if not c:need(16) then break end
            env:add(pf_reference, c.tvb(c.off, 16))
            c.off = c.off + 16
        end
    end
    local body_start = c.off
    local tid
    if not c.err then
        local body = tree:add(pf_body, tvb(body_start, length - 2 - body_start))
        body:append_text(": " .. msg_types[mt])
        tid = bodies[mt](c, body)
    end
    add_crc()
    -- step 9
    if not c.err and c.off ~= length - 2 then
        c:fail("bad_length", (length - 2 - c.off) .. " bytes left before the CRC")
    end
    -- step 10
    if not c.err and avail > length then
        c:fail("trailing_bytes", (avail - length) .. " bytes after the frame")
    end
    if tid then info = info .. " " .. tid end
    if nmid then info = info .. " id=" .. nmid end
    if obs then info = info .. " " .. tod_text(obs) end
    if c.err then info = info .. " [" .. c.err .. "]" end
    pinfo.cols.info = info
    tree:append_text(", " .. (msg_types[mt] or "?") .. (c.err and (", error " .. c.err) or ""))
    return avail
end

function jp.dissector(tvb, pinfo, tree)
    return dissect(tvb, pinfo, tree)
end

local function heuristic(tvb, pinfo, tree)
    local n = tvb:len()
    if n < 12 or tvb(0, 2):uint() ~= 0x4A50 or tvb(2, 1):uint() ~= 1 then return false end
    if tvb(4, 2):uint() ~= n then return false end
    dissect(tvb, pinfo, tree)
    return true
end

local udp = DissectorTable.get("udp.port")
udp:add(5500, jp)
udp:add(7000, jp)
jp:register_heuristic("udp", heuristic)
