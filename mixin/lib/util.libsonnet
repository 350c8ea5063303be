// Helpers shared by the rules, the alerts and the dashboards.
{
  // num formats a number as written by hand (0.05, not 0.050000000000000003): at most 15
  // significant digits, which every decimal literal of this mixin has.
  num(x)::
    if std.type(x) != 'number' then error 'num: want a number, got ' + std.type(x)
    else if x == std.floor(x) && std.abs(x) < 1e15 then std.format('%d', x)
    else std.format('%.15g', x),

  // manifestJSON renders a value as JSON indented by two spaces, object keys sorted, numbers
  // through num (std.manifestJsonEx prints 0.05 as 0.050000000000000003).
  manifestJSON(v)::
    local render(v, indent) =
      local inner = indent + '  ';
      local t = std.type(v);
      if t == 'object' then
        local keys = std.objectFields(v);
        if std.length(keys) == 0 then '{}'
        else '{\n' + std.join(',\n', [inner + std.escapeStringJson(k) + ': ' + render(v[k], inner) for k in keys]) + '\n' + indent + '}'
      else if t == 'array' then
        if std.length(v) == 0 then '[]'
        else '[\n' + std.join(',\n', [inner + render(e, inner) for e in v]) + '\n' + indent + ']'
      else if t == 'string' then std.escapeStringJson(v)
      else if t == 'number' then $.num(v)
      else if t == 'boolean' then (if v then 'true' else 'false')
      else if t == 'null' then 'null'
      else error 'manifestJSON: cannot render a ' + t;
    render(v, '') + '\n',
}
