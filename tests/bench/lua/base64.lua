-- SPDX-License-Identifier: BSD-3-Clause
-- base64.lua - the encoder the seed's auth-httpbasic.lua needs
-- (base64.encode only), written for tests/bench: pure Lua 5.3/5.4,
-- RFC 4648 alphabet with "=" padding.
local M = {}

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local digit = {}
for i = 1, 64 do
  digit[i - 1] = alphabet:sub(i, i)
end

function M.encode(s)
  local out = {}
  local n = #s
  for i = 1, n - 2, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = (a << 16) | (b << 8) | c
    out[#out + 1] = digit[(v >> 18) & 63] .. digit[(v >> 12) & 63]
                 .. digit[(v >> 6) & 63] .. digit[v & 63]
  end
  local rest = n % 3
  if rest == 1 then
    local v = s:byte(n) << 16
    out[#out + 1] = digit[(v >> 18) & 63] .. digit[(v >> 12) & 63] .. "=="
  elseif rest == 2 then
    local a, b = s:byte(n - 1, n)
    local v = (a << 16) | (b << 8)
    out[#out + 1] = digit[(v >> 18) & 63] .. digit[(v >> 12) & 63]
                 .. digit[(v >> 6) & 63] .. "="
  end
  return table.concat(out)
end

return M
