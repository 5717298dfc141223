using System.Text.Json;
using AdCtr.Learning.Features;

namespace AdCtr.Learning.Readers;

/// <summary>
/// AdCtr's NDJSON example log, one object per line:
/// <c>{"timestamp":"2026-01-05T13:04:05.123Z","label":1,"weight":1.0,"campaignId":"c17","adId":"c17-a2",
/// "advertiserId":"adv3","context":{"user_age":"25-34"},"features":{"ad_category":"shoes"},"trueCtr":0.0213}</c>.
/// <list type="bullet">
/// <item><c>label</c> (required): the number 0 or 1.</item>
/// <item><c>weight</c> (default 1): a finite number &gt; 0 (also as a float).</item>
/// <item><c>timestamp</c> (default 0 = unknown): an ISO 8601 string or a number of Unix milliseconds.</item>
/// <item><c>campaignId</c>, <c>adId</c>, <c>advertiserId</c>: the spec fields of those exact names, when declared.</item>
/// <item><c>context</c>, <c>features</c>: objects whose keys map to spec fields by name; keys without a field are ignored.</item>
/// <item><c>trueCtr</c>: a number in [0, 1], exposed as <see cref="TrueCtr"/> for evaluation; never a feature.</item>
/// </list>
/// Feature values may be strings, numbers (their JSON text, e.g. <c>3.50</c>) or booleans (<c>true</c>/<c>false</c>);
/// null leaves the field missing; an object or array for a declared field is malformed. Other top-level keys
/// are ignored; a null <c>context</c>/<c>features</c>/<c>weight</c>/<c>timestamp</c> counts as absent.
/// Parsed with <see cref="Utf8JsonReader"/> over the line bytes: no DOM, no strings.
/// </summary>
internal sealed class AdCtrJsonReader : ExampleReaderBase
{
    private readonly FieldNameTable _names;
    private readonly int _campaignIdField;
    private readonly int _adIdField;
    private readonly int _advertiserIdField;
    private byte[] _scratch = new byte[256];
    private readonly bool _rejectUnknown;
    private double? _trueCtr;

    public AdCtrJsonReader(Stream stream, FeatureSpec spec, ReaderOptions options)
        : base(stream, spec, options)
    {
        _names = new FieldNameTable(spec);
        _campaignIdField = spec.IndexOf("campaignId");
        _adIdField = spec.IndexOf("adId");
        _advertiserIdField = spec.IndexOf("advertiserId");
        _rejectUnknown = options.RejectUnknownMembers;
    }

    /// <summary>The <c>trueCtr</c> of the last example read, or null when it had none.</summary>
    public override double? TrueCtr => _trueCtr;

    protected override bool ParseLine(ReadOnlySpan<byte> line, RawRow row)
    {
        _trueCtr = null;
        try
        {
            return ParseObject(line, row);
        }
        catch (JsonException e)
        {
            return Fail("invalid JSON: {0}", e.Message);
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader.CopyString on an invalid escape or invalid UTF-8.
            return Fail("invalid JSON string: {0}", e.Message);
        }
    }

    private bool ParseObject(ReadOnlySpan<byte> line, RawRow row)
    {
        var json = new Utf8JsonReader(line);
        if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
        {
            return Fail("not a JSON object");
        }

        var hasLabel = false;
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            var name = Name(ref json);
            json.Read();
            if (name.SequenceEqual("label"u8))
            {
                if (json.TokenType != JsonTokenType.Number || !json.TryGetDouble(out var label) || (label != 0 && label != 1))
                {
                    return Fail("label is not 0 or 1");
                }

                row.Label = (float)label;
                hasLabel = true;
            }
            else if (name.SequenceEqual("weight"u8))
            {
                if (json.TokenType != JsonTokenType.Null && !ReadWeight(ref json, row))
                {
                    return Fail("weight is not a finite number > 0");
                }
            }
            else if (name.SequenceEqual("timestamp"u8))
            {
                if (json.TokenType != JsonTokenType.Null && !ReadTimestamp(ref json, row))
                {
                    return Fail("timestamp is neither an ISO 8601 string nor a number of Unix milliseconds");
                }
            }
            else if (name.SequenceEqual("context"u8) || name.SequenceEqual("features"u8))
            {
                if (json.TokenType == JsonTokenType.StartObject)
                {
                    if (!ReadFeatureObject(ref json, row))
                    {
                        return false;
                    }
                }
                else if (json.TokenType != JsonTokenType.Null)
                {
                    return Fail(name[0] == (byte)'c' ? "context is not an object" : "features is not an object");
                }
            }
            else if (name.SequenceEqual("campaignId"u8))
            {
                if (!ReadTopLevelField(ref json, _campaignIdField, row))
                {
                    return false;
                }
            }
            else if (name.SequenceEqual("adId"u8))
            {
                if (!ReadTopLevelField(ref json, _adIdField, row))
                {
                    return false;
                }
            }
            else if (name.SequenceEqual("advertiserId"u8))
            {
                if (!ReadTopLevelField(ref json, _advertiserIdField, row))
                {
                    return false;
                }
            }
            else if (name.SequenceEqual("trueCtr"u8))
            {
                if (json.TokenType == JsonTokenType.Number && json.TryGetDouble(out var trueCtr) && trueCtr is >= 0 and <= 1)
                {
                    _trueCtr = trueCtr;
                }
                else if (json.TokenType != JsonTokenType.Null)
                {
                    return Fail("trueCtr is not a number in [0, 1]");
                }
            }
            else if (_rejectUnknown && !name.SequenceEqual("clickDelaySeconds"u8))
            {
                return Fail("unknown member '{0}'", System.Text.Encoding.UTF8.GetString(name));
            }
            else
            {
                json.Skip();
            }
        }

        // The loop ends at the object's end; anything but whitespace after it makes Read throw.
        if (json.TokenType != JsonTokenType.EndObject || json.CurrentDepth != 0 || json.Read())
        {
            return Fail("not a single JSON object");
        }

        if (!hasLabel)
        {
            _trueCtr = null;
            return Fail("missing label");
        }

        return true;
    }

    private static bool ReadWeight(ref Utf8JsonReader json, RawRow row)
    {
        if (json.TokenType != JsonTokenType.Number || !json.TryGetDouble(out var weight))
        {
            return false;
        }

        var single = (float)weight;
        if (!float.IsFinite(single) || single <= 0)
        {
            return false;
        }

        row.Weight = single;
        return true;
    }

    private static bool ReadTimestamp(ref Utf8JsonReader json, RawRow row)
    {
        if (json.TokenType == JsonTokenType.String)
        {
            if (!json.TryGetDateTimeOffset(out var time))
            {
                return false;
            }

            row.TimestampMs = time.ToUnixTimeMilliseconds();
            return true;
        }

        if (json.TokenType == JsonTokenType.Number && json.TryGetInt64(out var ms))
        {
            row.TimestampMs = ms;
            return true;
        }

        return false;
    }

    private bool ReadTopLevelField(ref Utf8JsonReader json, int field, RawRow row)
    {
        if (field < 0)
        {
            json.Skip();
            return true;
        }

        return SetValue(ref json, field, row);
    }

    /// <summary>Reads the members of a <c>context</c> or <c>features</c> object, the reader on its StartObject.</summary>
    private bool ReadFeatureObject(ref Utf8JsonReader json, RawRow row)
    {
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            var field = _names.Find(Name(ref json));
            json.Read();
            if (field < 0)
            {
                json.Skip();
            }
            else if (!SetValue(ref json, field, row))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Sets a scalar value (the reader on it) as the field's UTF-8 bytes; null leaves it missing.</summary>
    private bool SetValue(ref Utf8JsonReader json, int field, RawRow row)
    {
        switch (json.TokenType)
        {
            case JsonTokenType.String:
                if (json.ValueIsEscaped)
                {
                    row.Set(field, Unescaped(ref json));
                }
                else
                {
                    row.Set(field, json.ValueSpan);
                }

                return true;
            case JsonTokenType.Number:
            case JsonTokenType.True:
            case JsonTokenType.False:
                row.Set(field, json.ValueSpan);
                return true;
            case JsonTokenType.Null:
                row.SetMissing(field);
                return true;
            default:
                return Fail("the value of field '{0}' is not a string, number or boolean", Spec.Fields[field].Name);
        }
    }

    /// <summary>The current property name as UTF-8, unescaped into the scratch buffer when needed.</summary>
    private ReadOnlySpan<byte> Name(ref Utf8JsonReader json) => json.ValueIsEscaped ? Unescaped(ref json) : json.ValueSpan;

    private ReadOnlySpan<byte> Unescaped(ref Utf8JsonReader json)
    {
        // An unescaped string is never longer than its escaped form.
        if (_scratch.Length < json.ValueSpan.Length)
        {
            _scratch = new byte[Math.Max(_scratch.Length * 2, json.ValueSpan.Length)];
        }

        var written = json.CopyString(_scratch);
        return _scratch.AsSpan(0, written);
    }
}
