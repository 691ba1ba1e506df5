-- wrk: POST the bodies given after `--` in turn (W2's sign-ins), one per request.
-- Arguments: path, content type, then one body per account.
local path, headers, bodies
local next_body = 0

init = function(args)
  path = args[1]
  headers = { ["Content-Type"] = args[2] }
  bodies = {}
  for i = 3, #args do
    bodies[#bodies + 1] = args[i]
  end
end

request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", path, headers, bodies[next_body])
end
