-- trilink_kr.lua: Wireshark dissector for trilink's KR reference national format, `$TLKR`
-- sentences version 1 (schemas/national/kr.md): one ASCII sentence per MQTT PUBLISH,
-- CRC-32/ISO-HDLC in hex.
--
-- Registered as a heuristic on Wireshark's MQTT PUBLISH payloads ("mqtt.topic" heuristic list,
-- so any topic works: trilink's default is kr/warning/out and kr/warning/in on port 1883; the
-- `$TLKR,` sync decides, as the spec says the payload is authoritative), and as "trilink_kr"
-- for Decode As… on raw TCP/UDP payloads.
--
-- Field names follow the spec (section 4 and 6): trilink_kr.<field> with the text as written;
-- positions also as generated degrees (trilink_kr.lat_deg / lon_deg), times also as UTC
-- (trilink_kr.<time field>.utc). The checksum is shown as correct/incorrect
-- (trilink_kr.checksum.status: 1 Good, 0 Bad); errors carry the spec's codes (section 9).

local kr = Proto("trilink_kr", "trilink KR national format ($TLKR)")

local MAX_SENTENCE = 2048
local counts = { LCH = 20, TRK = 23, IMP = 19, END = 17, CAN = 13, COR = 18, STA = 15 }
local kinds = {
    LCH = "launch_detection", TRK = "track_update", IMP = "impact_prediction",
    END = "event_end", CAN = "cancel", COR = "correction", STA = "status",
}
local checksum_status = { [0] = "Bad", [1] = "Good", [2] = "Unverified" }

local f = kr.fields
local pfs = {}
local function str(name, label)
    local pf = ProtoField.string("trilink_kr." .. name, label, base.UNICODE)
    f[name] = pf; pfs[name] = pf
    return pf
end
local pf_sentence = str("sentence", "Sentence")
local pf_body = str("body", "Body")
for _, n in ipairs({ "talker", "type", "version", "mode", "origin", "releasability", "system",
    "sensor", "national_id", "observed", "references", "track_id", "launch_time", "time",
    "impact_time", "lat", "lon", "alt", "unc_h", "unc_v", "class", "confidence", "vel_e",
    "vel_n", "vel_u", "quality", "phase", "semi_major", "semi_minor", "orientation",
    "end_reason", "reason", "corrected_time", "corrected_class", "component", "state",
    "uptime", "detail" }) do
    str(n, n)
end
local pf_reference = ProtoField.string("trilink_kr.reference", "Reference")
f.reference = pf_reference
local pf_lat_deg = ProtoField.double("trilink_kr.lat_deg", "Latitude (degrees)")
local pf_lon_deg = ProtoField.double("trilink_kr.lon_deg", "Longitude (degrees)")
f.lat_deg = pf_lat_deg; f.lon_deg = pf_lon_deg
local utc_fields = {}
for _, n in ipairs({ "observed", "launch_time", "time", "impact_time", "corrected_time" }) do
    utc_fields[n] = ProtoField.absolute_time("trilink_kr." .. n .. ".utc", n .. " (UTC)", base.UTC)
    f[n .. "_utc"] = utc_fields[n]
end
local pf_kind = ProtoField.string("trilink_kr.kind", "Common payload kind")
f.kind = pf_kind
local pf_checksum = ProtoField.string("trilink_kr.checksum", "Checksum (CRC-32)")
local pf_checksum_status = ProtoField.uint8("trilink_kr.checksum.status", "Checksum status", base.DEC, checksum_status)
local pf_checksum_calc = ProtoField.string("trilink_kr.checksum.calculated", "Calculated checksum")
local pf_error = ProtoField.string("trilink_kr.error", "Decode error")
f.checksum = pf_checksum; f.checksum_status = pf_checksum_status
f.checksum_calc = pf_checksum_calc; f.error = pf_error

local ef_error = ProtoExpert.new("trilink_kr.error.expert", "trilink KR decode error", expert.group.MALFORMED, expert.severity.ERROR)
local ef_bad_checksum = ProtoExpert.new("trilink_kr.bad_checksum", "bad_checksum: CRC-32/ISO-HDLC mismatch", expert.group.CHECKSUM, expert.severity.ERROR)
kr.experts = { ef_error, ef_bad_checksum }

-- CRC-32/ISO-HDLC (reflected 0xEDB88320, init and xorout 0xFFFFFFFF)
local crc_table = {}
for i = 0, 255 do
    local c = i
    for _ = 1, 8 do
        if bit32.band(c, 1) ~= 0 then c = bit32.bxor(bit32.rshift(c, 1), 0xEDB88320) else c = bit32.rshift(c, 1) end
    end
    crc_table[i] = c
end
local function crc32(s)
    local crc = 0xFFFFFFFF
    for i = 1, #s do
        crc = bit32.bxor(bit32.rshift(crc, 8), crc_table[bit32.band(bit32.bxor(crc, s:byte(i)), 0xFF)])
    end
    return bit32.bxor(crc, 0xFFFFFFFF)
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

-- days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil)
local function days_from_civil(y, m, d)
    if m <= 2 then y = y - 1 end
    local era = math.floor(y / 400)
    local yoe = y - era * 400
    local mp = (m + 9) % 12
    local doy = math.floor((153 * mp + 2) / 5) + d - 1
    local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
end
local function days_in_month(y, m)
    local dm = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
    if m == 2 and ((y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0) then return 29 end
    return dm[m]
end

-- Field parsers: return (value, display text) or (nil, error code, detail).
local function parse_time(s)
    if #s ~= 27 or s:sub(9, 9) ~= "T" or s:sub(16, 16) ~= "." or s:sub(23) ~= "+0900" then
        return nil, "bad_field", "TIME shape"
    end
    local Y, M, D, h, mi, se, us = s:match("^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)%.(%d%d%d%d%d%d)%+0900$")
    if not Y then return nil, "bad_field", "TIME digits" end
    Y, M, D, h, mi, se, us = tonumber(Y), tonumber(M), tonumber(D), tonumber(h), tonumber(mi), tonumber(se), tonumber(us)
    if M < 1 or M > 12 or D < 1 or D > days_in_month(Y, M) or h > 23 or mi > 59 or se > 59 then
        return nil, "field_out_of_range", "TIME"
    end
    local secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + se - 9 * 3600
    if secs < 0 then return nil, "field_out_of_range", "TIME before 1970" end
    return NSTime.new(secs, us * 1000), string.format("%04d-%02d-%02d %02d:%02d:%02d.%06d KST", Y, M, D, h, mi, se, us)
end

local function parse_dms(s, degdigits, pos, neg, max_u)
    local n = degdigits + 10
    if #s ~= n then return nil, "bad_field", "DMS length" end
    local pat = "^" .. string.rep("%d", degdigits) .. "%d%d%d%d%.%d%d%d%d[" .. pos .. neg .. "]$"
    if not s:match(pat) then return nil, "bad_field", "DMS shape" end
    local dd = tonumber(s:sub(1, degdigits))
    local mm = tonumber(s:sub(degdigits + 1, degdigits + 2))
    local ss = tonumber(s:sub(degdigits + 3, degdigits + 4))
    local frac = tonumber(s:sub(degdigits + 6, degdigits + 9))
    local h = s:sub(n, n)
    if mm > 59 or ss > 59 then return nil, "field_out_of_range", "DMS minutes/seconds" end
    local u = dd * 36000000 + mm * 600000 + ss * 10000 + frac
    if u > max_u then return nil, "field_out_of_range", "DMS > limit" end
    if u == 0 and h == neg then return nil, "bad_field", "negative zero" end
    local v = u / 36000000
    if h == neg then v = -v end
    return v, string.format("%.8f°", v)
end

local function parse_fix(s, n, lo, hi, unit)
    local pat = n == 0 and "^%-?%d+$" or ("^%-?%d+%." .. string.rep("%d", n) .. "$")
    if not s:match(pat) then return nil, "bad_field", "FIX syntax" end
    local ip = s:match("^%-?(%d+)")
    if #ip > 1 and ip:sub(1, 1) == "0" then return nil, "bad_field", "leading zero" end
    local digits = s:gsub("[%-%.]", "")
    local v = tonumber(digits)
    if s:sub(1, 1) == "-" then
        if v == 0 then return nil, "bad_field", "negative zero" end
        v = -v
    end
    if v < lo or v > hi then return nil, "field_out_of_range", "FIX range" end
    return v / (10 ^ n), s .. (unit and (" " .. unit) or "")
end

local function parse_code(words)
    return function(s)
        if s == "" then return nil, "missing_field", "empty code" end
        if not words[s] then return nil, "bad_field", "unknown code " .. s end
        return s, s
    end
end

local function parse_text(max, required)
    return function(s)
        if s == "" and required then return nil, "missing_field", "empty text" end
        local out, i = {}, 1
        while i <= #s do
            local ch = s:sub(i, i)
            if ch == "^" then
                local hex = s:sub(i + 1, i + 2)
                if not hex:match("^[0-9A-F][0-9A-F]$") then return nil, "bad_text", "bad escape" end
                local b = tonumber(hex, 16)
                if b >= 0x20 and b <= 0x7E and b ~= 0x24 and b ~= 0x2A and b ~= 0x2C and b ~= 0x5C and b ~= 0x5E then
                    return nil, "bad_text", "needless escape"
                end
                out[#out + 1] = string.char(b)
                i = i + 3
            elseif ch == "\\" then
                return nil, "bad_text", "unescaped backslash"
            else
                out[#out + 1] = ch
                i = i + 1
            end
        end
        local t = table.concat(out)
        if #t > max then return nil, "field_out_of_range", "text longer than " .. max end
        if not valid_utf8(t) then return nil, "bad_text", "not UTF-8" end
        return t, t
    end
end

local function parse_track(s)
    if s == "" then return nil, "missing_field", "empty track id" end
    if #s > 32 then return nil, "field_out_of_range", "track id longer than 32" end
    if not s:match("^[A-Za-z0-9_%-]+$") then return nil, "bad_text", "track id character" end
    return s, s
end

local function parse_nations(s)
    if s == "" then return nil, "missing_field", "empty releasability" end
    local ok = { JP = 1, KR = 1, US = 1, ["JP+KR"] = 1, ["JP+US"] = 1, ["KR+US"] = 1, ["JP+KR+US"] = 1 }
    if not ok[s] then return nil, "bad_field", "nation list" end
    return s, s
end

local function parse_refs(s)
    if s == "" then return {}, "none" end
    local list = {}
    for id in (s .. "+"):gmatch("([^+]*)%+") do
        if not id:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") or id:match("[A-F]") then
            return nil, "bad_field", "reference"
        end
        list[#list + 1] = id
    end
    return list, #list .. " reference(s)"
end

local classes = { SRBM = 1, MRBM = 1, IRBM = 1, ICBM = 1, SLBM = 1, UNKNOWN = 1 }
local ALT = function(s) return parse_fix(s, 2, -100000, 1000000000, "m") end
local DIST = function(s) return parse_fix(s, 2, 0, 100000000, "m") end
local VEL = function(s) return parse_fix(s, 2, -1200000, 1200000, "m/s") end
local LAT = function(s) return parse_dms(s, 2, "N", "S", 3240000000) end
local LON = function(s) return parse_dms(s, 3, "E", "W", 6480000000) end

-- field layouts after the 11-field header: { name, parser, optional-group }
local layouts = {
    LCH = { { "track_id", parse_track }, { "launch_time", parse_time }, { "lat", LAT }, { "lon", LON },
        { "alt", ALT }, { "unc_h", DIST }, { "unc_v", DIST }, { "class", parse_code(classes) },
        { "confidence", function(s) return parse_fix(s, 4, 0, 10000) end } },
    TRK = { { "track_id", parse_track }, { "time", parse_time }, { "lat", LAT }, { "lon", LON },
        { "alt", ALT }, { "unc_h", DIST }, { "unc_v", DIST }, { "vel_e", VEL }, { "vel_n", VEL },
        { "vel_u", VEL }, { "quality", function(s) return parse_fix(s, 0, 0, 15) end },
        { "phase", parse_code({ BOOST = 1, MIDCOURSE = 1, TERMINAL = 1, UNKNOWN = 1 }) } },
    IMP = { { "track_id", parse_track }, { "impact_time", parse_time }, { "lat", LAT }, { "lon", LON },
        { "alt", ALT }, { "semi_major", DIST }, { "semi_minor", DIST },
        { "orientation", function(s) return parse_fix(s, 3, 0, 180000, "°") end } },
    END = { { "track_id", parse_track }, { "time", parse_time },
        { "end_reason", parse_code({ IMPACT = 1, LOST = 1, OTHER = 1 }) },
        { "lat", LAT, "point" }, { "lon", LON, "point" }, { "alt", ALT, "point" } },
    CAN = { { "track_id", parse_track }, { "reason", parse_text(256, true) } },
    COR = { { "track_id", parse_track }, { "reason", parse_text(256, true) },
        { "corrected_time", parse_time, "time" }, { "lat", LAT, "point" }, { "lon", LON, "point" },
        { "alt", ALT, "point" }, { "corrected_class", parse_code(classes), "class" } },
    STA = { { "component", parse_text(64, true) },
        { "state", parse_code({ OK = 1, DEGRADED = 1, DOWN = 1 }) },
        { "uptime", function(s) return parse_fix(s, 3, 0, 999999999999999, "s") end },
        { "detail", parse_text(256, false) } },
}
local header = {
    { "mode", parse_code({ REAL = 1, EXERCISE = 1, TEST = 1 }) },
    { "origin", parse_code({ JP = 1, KR = 1, US = 1 }) },
    { "releasability", parse_nations },
    { "system", parse_text(64, true) }, { "sensor", parse_text(64, true) },
    { "national_id", parse_text(128, true) }, { "observed", parse_time }, { "references", parse_refs },
}

local function fail(state, tree, code, detail)
    if state.err then return end
    state.err = code
    local item = tree:add(pf_error, code)
    item:set_generated()
    item:add_proto_expert_info(ef_error, code .. ": " .. detail)
end

-- Dissects the sentence at the start of tvb (a whole payload). Returns bytes consumed, 0 if not ours.
local function dissect(tvb, pinfo, root)
    local L = tvb:len()
    local sync = "$TLKR,"
    local head = tvb(0, math.min(L, 6)):string()
    if head ~= sync:sub(1, #head) or L == 0 then return 0 end
    pinfo.cols.protocol = "TRILINK-KR"
    local tree = root:add(kr, tvb())
    local state = {}
    local window = tvb(0, math.min(L, MAX_SENTENCE)):string()
    local lf = window:find("\n", 1, true)
    if L < 6 or not lf then
        if L >= MAX_SENTENCE then fail(state, tree, "oversize", "2048 bytes without LF")
        else fail(state, tree, "truncated", "payload ends before the sentence's LF") end
        pinfo.cols.info = "KR [" .. state.err .. "]"
        return L
    end
    local N = lf
    local s = window:sub(1, N)
    tree:set_len(N)
    tree:add(pf_sentence, tvb(0, N), s:sub(1, N - 2))
    -- step 3: framing
    if N < 11 or s:sub(N - 1, N - 1) ~= "\r" or s:sub(N - 10, N - 10) ~= "*"
        or s:sub(2, N - 11):find("[^\32-\126]") or s:sub(2, N - 11):find("[%$%*]")
        or not s:sub(N - 9, N - 2):match("^[0-9A-F]+$") then
        fail(state, tree, "bad_framing", "framing")
        pinfo.cols.info = "KR [bad_framing]"
        return L
    end
    local body = s:sub(2, N - 11)
    local written = s:sub(N - 9, N - 2)
    local calc = string.format("%08X", crc32(body))
    local ck = tree:add(pf_checksum, tvb(N - 10, 8), written)
    ck:add(pf_checksum_status, tvb(N - 10, 8), written == calc and 1 or 0):set_generated()
    ck:add(pf_checksum_calc, tvb(N - 10, 8), calc):set_generated()
    if written ~= calc then
        ck:append_text(" [incorrect, should be " .. calc .. "]")
        ck:add_proto_expert_info(ef_bad_checksum)
        fail(state, tree, "bad_checksum", "CRC-32 mismatch")
        pinfo.cols.info = "KR [bad_checksum]"
        return L
    end
    ck:append_text(" [correct]")
    -- step 5: fields, with their byte ranges
    local fields, offs = {}, {}
    local pos = 1
    for field in (body .. ","):gmatch("([^,]*),") do
        fields[#fields + 1] = field
        offs[#offs + 1] = pos -- offset in the tvb (after '$')
        pos = pos + #field + 1
    end
    local function range(i) return tvb(offs[i], #fields[i]) end
    local function addf(t, name, i, text)
        local item = t:add(pfs[name], range(i), fields[i])
        if text and text ~= fields[i] then item:append_text(" (" .. text .. ")") end
        return item
    end
    local F = #fields
    if F < 3 then fail(state, tree, "field_count", F .. " fields") pinfo.cols.info = "KR [field_count]" return L end
    local ty = fields[2]
    addf(tree, "talker", 1)
    addf(tree, "type", 2, kinds[ty])
    addf(tree, "version", 3)
    local info = "KR " .. ty
    if fields[3] ~= "1" then fail(state, tree, "unsupported_version", "version " .. fields[3])
    elseif not counts[ty] then fail(state, tree, "unknown_type", "type " .. ty)
    elseif F ~= counts[ty] then fail(state, tree, "field_count", F .. " fields for " .. ty) end
    if state.err then pinfo.cols.info = info .. " [" .. state.err .. "]" return L end
    tree:add(pf_kind, kinds[ty]):set_generated()
    -- step 6: fields in order
    local function run(t, list, first)
        -- optional all-or-none groups
        local group_empty = {}
        for k, spec in ipairs(list) do
            local g = spec[3]
            if g then
                if group_empty[g] == nil then group_empty[g] = true end
                if fields[first + k - 1] ~= "" then group_empty[g] = false end
            end
        end
        for k, spec in ipairs(list) do
            if state.err then return end
            local i = first + k - 1
            local name, parser, g = spec[1], spec[2], spec[3]
            if g and group_empty[g] then
                addf(t, name, i, "absent")
            elseif name ~= "detail" and fields[i] == "" and name ~= "references" then
                addf(t, name, i)
                fail(state, t, "missing_field", "field " .. (i - 1) .. " " .. name)
            else
                local v, text, detail = parser(fields[i])
                if v == nil then
                    addf(t, name, i)
                    fail(state, t, text, "field " .. (i - 1) .. " " .. name .. ": " .. detail)
                else
                    local item = addf(t, name, i, text)
                    if name == "lat" then item:add(pf_lat_deg, range(i), v):set_generated() end
                    if name == "lon" then item:add(pf_lon_deg, range(i), v):set_generated() end
                    if utc_fields[name] then item:add(utc_fields[name], range(i), v):set_generated() end
                    if name == "references" then
                        for _, id in ipairs(v) do item:add(pf_reference, range(i), id) end
                    end
                    if name == "track_id" or name == "component" then info = info .. " " .. v end
                    if name == "national_id" then info = info .. " id=" .. v end
                end
            end
        end
    end
    local env = tree:add(kr, tvb(1, N - 12), "Header (fields 0-10)")
    run(env, header, 4)
    if not state.err then
        local bt = tree:add(kr, tvb(1, N - 12), "Body: " .. kinds[ty])
        run(bt, layouts[ty], 12)
    end
    -- step 7
    if not state.err and N < L then fail(state, tree, "trailing_data", (L - N) .. " bytes after the LF") end
    if state.err then info = info .. " [" .. state.err .. "]" end
    pinfo.cols.info = info
    return L
end

function kr.dissector(tvb, pinfo, tree)
    return dissect(tvb, pinfo, tree)
end

local function heuristic(tvb, pinfo, tree)
    if tvb:len() < 6 or tvb(0, 6):string() ~= "$TLKR," then return false end
    dissect(tvb, pinfo, tree)
    return true
end

kr:register_heuristic("mqtt.topic", heuristic)
-- Decode As… (udp.port / tcp.port → trilink_kr) for sentences outside MQTT (one per payload)
DissectorTable.get("udp.port"):add_for_decode_as(kr)
DissectorTable.get("tcp.port"):add_for_decode_as(kr)
