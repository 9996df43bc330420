-- wrk script: wrk_report.lua's counts, sending the requests listed in a file in turn
-- (wrk ... URL -- FILE), one per line: "path<TAB>X-Progress-Capability<TAB>If-None-Match"
-- (the last may be empty). Each connection takes the next line, round and round.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk_report.lua")

local report_init = init
local listed, count, next_one = {}, 0, 0

function init(args)
  report_init(args)
  for line in io.lines(args[1]) do
    local path, capability, etag = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
    local headers = {["X-Progress-Capability"] = capability}
    if etag ~= "" then
      headers["If-None-Match"] = etag
    end
    count = count + 1
    listed[count] = wrk.format("GET", path, headers)
  end
end

function request()
  if count == 0 then -- wrk checks the script before init, with no file read yet
    return wrk.format()
  end
  next_one = next_one % count + 1
  return listed[next_one]
end
