using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;

namespace AdCtr.Learning.Tests.Readers;

public sealed class CsvReaderTests
{
    private const string SpecJson = """
        {
          "name": "csv-test", "bits": 18, "label": "clicked", "timestamp": "time",
          "fields": [
            { "name": "site" },
            { "name": "views", "kind": "count" },
            { "name": "hour", "kind": "hourOfDay" },
            { "name": "weekday", "kind": "dayOfWeek" }
          ]
        }
        """;

    private static readonly FeatureSpec Spec = FeatureSpec.Parse(SpecJson);

    private static IExampleReader Open(string text, bool strict = false, FeatureSpec? spec = null) =>
        ExampleReaders.Open(new MemoryStream(Encoding.UTF8.GetBytes(text)), LogFormat.Csv, spec ?? Spec, new ReaderOptions { Strict = strict });

    [Fact]
    public void TryRead_QuotedFieldsAndIgnoredColumns_ReadAsRfc4180()
    {
        const string Text = "note,time,site,clicked,views\r\n" +
            "\"a, b\",2026-01-05 13:00:00,\"s \"\"1\"\"\",true,7\r\n" +
            "\"two\nlines\",2026-01-05 14:00:00,s2,0,\n";
        using var reader = Open(Text);
        var row = new RawRow(Spec.Fields.Length);

        Assert.True(reader.TryRead(row));
        Assert.Equal(2, reader.LineNumber);
        Assert.Equal(1f, row.Label);
        Assert.Equal("s \"1\"", row.GetString(0));
        Assert.Equal("7", row.GetString(1));
        Assert.Equal("13", row.GetString(2));
        Assert.Equal("mon", row.GetString(3));

        Assert.True(reader.TryRead(row));
        Assert.Equal(3, reader.LineNumber); // the record starts on line 3 and ends on line 4
        Assert.Equal(0f, row.Label);
        Assert.Equal("s2", row.GetString(0));
        Assert.False(row.IsPresent(1)); // empty = missing
        Assert.False(reader.TryRead(row));
        Assert.Equal(2, reader.Statistics.GoodLines);
        Assert.Equal(0, reader.Statistics.MalformedLines);
    }

    [Fact]
    public void TryRead_BadRows_AreCountedWithTheirLineNumbers()
    {
        const string Text = "time,site,clicked,views\n" +
            "2026-01-05 13:00:00,s1,1,3\n" +        // 2 good
            "2026-01-05 13:00:00,s1,,3\n" +         // 3 missing label
            "2026-01-05 13:00:00,s1,yes,3\n" +      // 4 bad label
            "2026-01-05 13:00:00,s1,1\n" +          // 5 too few columns
            "yesterday,s1,0,3\n" +                  // 6 bad timestamp
            "2026-01-05 13:00:00,s1,0,many\n" +     // 7 bad count
            "2026-01-05 13:00:00,\"s1\"x,0,3\n" +   // 8 text after a closing quote
            "2026-01-05 13:00:00,s9,false,4\n";     // 9 good
        using var reader = Open(Text);
        var row = new RawRow(Spec.Fields.Length);
        var good = 0;
        while (reader.TryRead(row))
        {
            good++;
        }

        Assert.Equal(2, good);
        Assert.Equal(6, reader.Statistics.MalformedLines);
        Assert.Equal([3L, 4, 5, 6, 7, 8], reader.Statistics.FirstMalformed.Select(m => m.LineNumber));
        Assert.Contains("missing label", reader.Statistics.FirstMalformed[0].Reason, StringComparison.Ordinal);
        Assert.Contains("bad label 'yes'", reader.Statistics.FirstMalformed[1].Reason, StringComparison.Ordinal);
        Assert.Contains("expected 4 columns, got 3", reader.Statistics.FirstMalformed[2].Reason, StringComparison.Ordinal);
        Assert.Contains("bad timestamp", reader.Statistics.FirstMalformed[3].Reason, StringComparison.Ordinal);
        Assert.Contains("bad count 'many'", reader.Statistics.FirstMalformed[4].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_Strict_ThrowsAtTheFirstBadRowWithItsLine()
    {
        using var reader = Open("time,site,clicked,views\n2026-01-05 13:00:00,s1,1,3\n2026-01-05 13:00:00,s1,2,3\n", strict: true);
        var row = new RawRow(Spec.Fields.Length);
        Assert.True(reader.TryRead(row));
        var e = Assert.Throws<MalformedLineException>(() => reader.TryRead(row));
        Assert.Equal(3, e.LineNumber);
    }

    [Theory]
    [InlineData("2026-01-07T22:30:00Z")]
    [InlineData("2026-01-08T00:30:00+02:00")]
    [InlineData("2026-01-07 22:30:00")]
    [InlineData("1767825000")]
    public void TryRead_TimestampFormats_GiveTheSameUtcInstant(string time)
    {
        using var reader = Open("time,site,clicked,views\n" + time + ",s1,1,3\n");
        var row = new RawRow(Spec.Fields.Length);
        Assert.True(reader.TryRead(row));

        // 2026-01-07 22:30 UTC is a Wednesday = Unix 1767825000 s.
        Assert.Equal(1_767_825_000_000, row.TimestampMs);
        Assert.Equal("22", row.GetString(2));
        Assert.Equal("wed", row.GetString(3));
    }

    [Fact]
    public void Open_HeaderLacksASpecColumn_IsInvalidData()
    {
        var e = Assert.Throws<InvalidDataException>(() => Open("time,clicked,views\n2026-01-05 13:00:00,1,3\n"));
        Assert.Contains("'site'", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => Open(string.Empty));
        Assert.Throws<InvalidDataException>(() => Open("time,site,site,clicked,views\n"));
    }

    [Fact]
    public void Open_DerivedFieldWithoutTimestampColumn_IsInvalidData()
    {
        var spec = FeatureSpec.Parse(SpecJson.Replace("\"timestamp\": \"time\",", string.Empty, StringComparison.Ordinal));
        Assert.Throws<InvalidDataException>(() => Open("site,clicked,views\ns1,1,3\n", spec: spec));
    }
}
