using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;
using FsCheck;
using FsCheck.Fluent;
using static AdCtr.Learning.Tests.Readers.ReaderFixtures;

namespace AdCtr.Learning.Tests.Readers;

public class AdCtrJsonReaderTests
{
    private static FeatureSpec JsonSpec() =>
        Spec("campaignId", "adId", "advertiserId", "user_age", "ad_category", "price", "is_mobile", "slot", "weekday");

    private const string Example =
        """{"timestamp":"2026-01-05T13:04:05.123Z","label":1,"weight":1.0,"campaignId":"c17","adId":"c17-a2","advertiserId":"adv3","context":{"user_age":"25-34","price":3.50,"is_mobile":true,"unknown_key":{"nested":[1,2]}},"features":{"ad_category":"shoes","slot":-7,"weekday":false},"trueCtr":0.0213}""";

    private static (RawRow Row, IExampleReader Reader) ReadOne(string text, FeatureSpec? spec = null)
    {
        spec ??= JsonSpec();
        var reader = ExampleReaders.Open(Utf8(text), LogFormat.AdCtrJson, spec, ReaderOptions.Default);
        var row = new RawRow(spec.Fields.Length);
        Assert.True(reader.TryRead(row), reader.Statistics.ToString());
        return (row, reader);
    }

    [Fact]
    public void TryRead_FullExample_EveryValueInItsSlot()
    {
        var (row, reader) = ReadOne(Example + "\n");
        using var _ = reader;
        Assert.Equal(1f, row.Label);
        Assert.Equal(1f, row.Weight);

        // 2026-01-05T13:04:05.123Z = 1767618245123 ms (Python: datetime(2026,1,5,13,4,5,123000,tzinfo=utc)).
        Assert.Equal(1767618245123L, row.TimestampMs);
        Assert.Equal("c17", row.GetString(0));
        Assert.Equal("c17-a2", row.GetString(1));
        Assert.Equal("adv3", row.GetString(2));
        Assert.Equal("25-34", row.GetString(3));
        Assert.Equal("shoes", row.GetString(4));

        // Numbers and booleans as their JSON text.
        Assert.Equal("3.50", row.GetString(5));
        Assert.Equal("true", row.GetString(6));
        Assert.Equal("-7", row.GetString(7));
        Assert.Equal("false", row.GetString(8));
        Assert.Equal(0.0213, reader.TrueCtr);
    }

    [Fact]
    public void TryRead_NumericTimestampWeightAndNoTrueCtr_Read()
    {
        var (row, reader) = ReadOne("""{"label":0,"timestamp":1767618245123,"weight":12.5,"campaignId":17}""");
        using var _ = reader;
        Assert.Equal(0f, row.Label);
        Assert.Equal(12.5f, row.Weight);
        Assert.Equal(1767618245123L, row.TimestampMs);
        Assert.Equal("17", row.GetString(0));
        Assert.Null(reader.TrueCtr);
        for (var f = 1; f < row.FieldCount; f++)
        {
            Assert.False(row.IsPresent(f));
        }
    }

    [Fact]
    public void TryRead_EscapedNamesAndValues_Unescaped()
    {
        // "user\u005fage" is user_age; the value holds an escaped quote, a tab and a non-ASCII character.
        var (row, reader) = ReadOne("""{"label":1,"context":{"user\u005fage":"a\"b\tc\u00e9"},"ad\u0049d":"x"}""");
        using var _ = reader;
        Assert.Equal("a\"b\tc\u00e9", row.GetString(3));
        Assert.Equal("x", row.GetString(1));
    }

    [Fact]
    public void TryRead_NullValues_LeaveFieldsMissing()
    {
        var (row, reader) = ReadOne("""{"label":1,"weight":null,"timestamp":null,"context":null,"features":{"slot":null},"campaignId":null,"trueCtr":null}""");
        using var _ = reader;
        Assert.Equal(1f, row.Weight);
        Assert.Equal(0, row.TimestampMs);
        Assert.False(row.IsPresent(0));
        Assert.False(row.IsPresent(7));
        Assert.Null(reader.TrueCtr);
    }

    [Fact]
    public void TryRead_TrueCtrOfEachRow_NotCarriedOver()
    {
        var spec = JsonSpec();
        using var reader = ExampleReaders.Open(Utf8("{\"label\":1,\"trueCtr\":0.5}\n{\"label\":0}\n"), LogFormat.AdCtrJson, spec, ReaderOptions.Default);
        var row = new RawRow(spec.Fields.Length);
        Assert.True(reader.TryRead(row));
        Assert.Equal(0.5, reader.TrueCtr);
        Assert.True(reader.TryRead(row));
        Assert.Null(reader.TrueCtr);
    }

    [Fact]
    public void TryRead_DamagedFixture_ExactCountsLineNumbersAndReasons()
    {
        var lines = new[]
        {
            Example,                                                     // 1 good
            """{"label":1,"context":{"user_age":"18-24"}""",             // 2 truncated object
            "",                                                          // 3 empty
            """{"weight":1}""",                                          // 4 missing label
            """{"label":2}""",                                           // 5 label 2
            """{"label":"1"}""",                                         // 6 label as string
            """{"label":1,"weight":0}""",                                // 7 weight 0
            """{"label":1,"weight":-1.5}""",                             // 8 negative weight
            """{"label":1,"weight":1e300}""",                            // 9 weight infinite as a float
            """{"label":1,"weight":"2"}""",                              // 10 weight as string
            """{"label":1,"timestamp":"yesterday"}""",                   // 11 bad timestamp
            """{"label":1,"timestamp":1.5}""",                           // 12 fractional timestamp
            """{"label":1,"context":"mobile"}""",                        // 13 context not an object
            """{"label":1,"features":[1,2]}""",                          // 14 features not an object
            """{"label":1,"context":{"user_age":{"min":18}}}""",         // 15 object value for a field
            """{"label":1,"trueCtr":1.5}""",                             // 16 trueCtr out of range
            """[1,2]""",                                                 // 17 not an object
            """{"label":1} {"label":0}""",                               // 18 two values on a line
            "not json at all",                                           // 19 garbage
            """{"label":0,"campaignId":"c1","extra":{"a":[{}]}}""",      // 20 good (unknown key skipped)
            """{"label":1,"adId":"c1\ud800"}""",                          // 21 lone surrogate escape
            """{"label":1,"weight":2}""",                                // 22 good, last line without newline
        };
        var spec = JsonSpec();
        using var reader = ExampleReaders.Open(Utf8(string.Join("\r\n", lines)), LogFormat.AdCtrJson, spec, new ReaderOptions { MaxReportedMalformed = 100 });
        var rows = ReadAll(reader, spec);
        Assert.Equal(3, rows.Count);
        Assert.Equal(3, reader.Statistics.GoodLines);
        Assert.Equal(18, reader.Statistics.MalformedLines);
        Assert.Equal(1, reader.Statistics.EmptyLines);
        Assert.Equal(
            [2L, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21],
            MalformedLineNumbers(reader.Statistics));

        var reasons = reader.Statistics.FirstMalformed;
        Assert.StartsWith("invalid JSON: ", reasons[0].Reason, StringComparison.Ordinal);
        Assert.Equal("missing label", reasons[1].Reason);
        Assert.Equal("label is not 0 or 1", reasons[2].Reason);
        Assert.Equal("label is not 0 or 1", reasons[3].Reason);
        Assert.Equal("weight is not a finite number > 0", reasons[4].Reason);
        Assert.Equal("weight is not a finite number > 0", reasons[5].Reason);
        Assert.Equal("weight is not a finite number > 0", reasons[6].Reason);
        Assert.Equal("weight is not a finite number > 0", reasons[7].Reason);
        Assert.Equal("timestamp is neither an ISO 8601 string nor a number of Unix milliseconds", reasons[8].Reason);
        Assert.Equal("timestamp is neither an ISO 8601 string nor a number of Unix milliseconds", reasons[9].Reason);
        Assert.Equal("context is not an object", reasons[10].Reason);
        Assert.Equal("features is not an object", reasons[11].Reason);
        Assert.Equal("the value of field 'user_age' is not a string, number or boolean", reasons[12].Reason);
        Assert.Equal("trueCtr is not a number in [0, 1]", reasons[13].Reason);
        Assert.Equal("not a JSON object", reasons[14].Reason);
        Assert.StartsWith("invalid JSON: ", reasons[15].Reason, StringComparison.Ordinal);
        Assert.StartsWith("invalid JSON: ", reasons[16].Reason, StringComparison.Ordinal);
        Assert.StartsWith("invalid JSON string: ", reasons[17].Reason, StringComparison.Ordinal);
        Assert.Equal("0|1|0|c1|<missing>|<missing>|<missing>|<missing>|<missing>|<missing>|<missing>|<missing>", rows[1]);
        Assert.Equal("1|2|0|<missing>|<missing>|<missing>|<missing>|<missing>|<missing>|<missing>|<missing>|<missing>", rows[2]);
    }

    [Fact]
    public void TryRead_StrictMode_ThrowsWithLineNumber()
    {
        var spec = JsonSpec();
        using var reader = ExampleReaders.Open(Utf8("{\"label\":1}\n\n{\"label\":1,\"weight\":0}\n"), LogFormat.AdCtrJson, spec, new ReaderOptions { Strict = true });
        var row = new RawRow(spec.Fields.Length);
        Assert.True(reader.TryRead(row));
        var e = Assert.Throws<MalformedLineException>(() => reader.TryRead(row));
        Assert.Equal(3, e.LineNumber);
        Assert.Equal("weight is not a finite number > 0", e.Reason);
    }

    [Fact]
    public void FieldNameTable_AnyNames_FindAgreesWithSpecIndexOf()
    {
        Check.One(FixedSeed.Config(13), Prop.ForAll<string[], string>((names, probe) =>
        {
            var distinct = new List<string>();
            foreach (var n in names ?? [])
            {
                if (n is not null && !distinct.Contains(n))
                {
                    distinct.Add(n);
                }
            }

            var spec = Spec([.. distinct]);
            var table = new FieldNameTable(spec);
            for (var i = 0; i < distinct.Count; i++)
            {
                if (table.Find(System.Text.Encoding.UTF8.GetBytes(distinct[i])) != i)
                {
                    return false;
                }
            }

            return probe is null || table.Find(System.Text.Encoding.UTF8.GetBytes(probe)) == spec.IndexOf(probe);
        }));
    }
}
