using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;
using static AdCtr.Learning.Tests.Readers.ReaderFixtures;

namespace AdCtr.Learning.Tests.Readers;

public class AvazuReaderTests
{
    private const string Header =
        "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,"
        + "device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21";

    /// <summary>An Avazu row of 24 columns with the given click and hour.</summary>
    private static string Row(string click, string hour, string id = "1000009418151094273") =>
        id + "," + click + "," + hour + ",1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,"
        + "ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79";

    private static FeatureSpec AvazuSpec() =>
        Spec("site_id", "hour_of_day", "weekday", "banner_pos", "C21", "device_ip", "hour", "not_in_log");

    [Theory]
    [InlineData("14102100", 1413849600000L, "00", "tue")]
    [InlineData("14103023", 1414710000000L, "23", "thu")]
    [InlineData("16022913", 1456750800000L, "13", "mon")]
    public void TryRead_Hour_ExactTimestampHourOfDayAndWeekday(string hour, long expectedMs, string hourOfDay, string weekday)
    {
        // Expected values from Python: datetime(2000 + YY, MM, DD, HH, tzinfo=utc).timestamp() * 1000 and %a.
        var spec = AvazuSpec();
        using var reader = ExampleReaders.Open(Utf8(Header + "\n" + Row("1", hour) + "\n"), LogFormat.Avazu, spec, ReaderOptions.Default);
        var row = new RawRow(spec.Fields.Length);
        Assert.True(reader.TryRead(row));
        Assert.Equal(expectedMs, row.TimestampMs);
        Assert.Equal(hourOfDay, row.GetString(1));
        Assert.Equal(weekday, row.GetString(2));
        Assert.Equal(hour, row.GetString(6));
    }

    [Fact]
    public void TryRead_GoodRow_ColumnsMappedByHeaderName()
    {
        var spec = AvazuSpec();
        using var reader = ExampleReaders.Open(Utf8(Header + "\r\n" + Row("1", "14102100") + "\r\n" + Row("0", "14102101")), LogFormat.Avazu, spec, ReaderOptions.Default);
        var row = new RawRow(spec.Fields.Length);
        Assert.True(reader.TryRead(row));
        Assert.Equal(1f, row.Label);
        Assert.Equal("1fbe01fe", row.GetString(0));
        Assert.Equal("0", row.GetString(3));
        Assert.Equal("79", row.GetString(4));
        Assert.Equal("ddd2926e", row.GetString(5));
        Assert.False(row.IsPresent(7));
        Assert.True(reader.TryRead(row));
        Assert.Equal(0f, row.Label);
        Assert.Equal(1413849600000L + 3_600_000L, row.TimestampMs);
        Assert.Equal("01", row.GetString(1));
        Assert.False(reader.TryRead(row));
        Assert.Equal(3, reader.LineNumber);
    }

    [Fact]
    public void TryRead_ReorderedHeader_MapsByName()
    {
        var spec = Spec("site_id", "weekday");
        using var reader = ExampleReaders.Open(Utf8("hour,site_id,click\n14102200,abc,1\n"), LogFormat.Avazu, spec, ReaderOptions.Default);
        var row = new RawRow(spec.Fields.Length);
        Assert.True(reader.TryRead(row));
        Assert.Equal("abc", row.GetString(0));
        Assert.Equal("wed", row.GetString(1));
        Assert.Equal(1f, row.Label);
    }

    [Fact]
    public void TryRead_DamagedFixture_ExactCountsLineNumbersAndReasons()
    {
        var text = string.Join('\n',
            Header,                               // 1 header
            Row("0", "14102100"),                 // 2 good
            Row("2", "14102100"),                 // 3 bad click
            Row("1", "14102124"),                 // 4 hour 24
            Row("1", "14023100"),                 // 5 Feb 31
            Row("1", "1410210"),                  // 6 7 digits
            "",                                   // 7 empty
            Row("1", "14102105") + ",extra",      // 8 25 columns
            Row("", "14102100"),                  // 9 empty click
            Row("1", "14x02100"),                 // 10 not digits
            Row("1", "14102123"),                 // 11 good
            Row("1", "14102123")[..40]);          // 12 last line truncated to 6 columns
        var spec = AvazuSpec();
        using var reader = ExampleReaders.Open(Utf8(text), LogFormat.Avazu, spec, ReaderOptions.Default);
        Assert.Equal(2, ReadAll(reader, spec).Count);
        Assert.Equal(2, reader.Statistics.GoodLines);
        Assert.Equal(8, reader.Statistics.MalformedLines);
        Assert.Equal(1, reader.Statistics.EmptyLines);
        Assert.Equal(
            [
                new MalformedLine(3, "click is not 0 or 1"),
                new MalformedLine(4, "hour is not a valid YYMMDDHH"),
                new MalformedLine(5, "hour is not a valid YYMMDDHH"),
                new MalformedLine(6, "hour is not a valid YYMMDDHH"),
                new MalformedLine(8, "expected 24 comma-separated columns, got 25"),
                new MalformedLine(9, "click is not 0 or 1"),
                new MalformedLine(10, "hour is not a valid YYMMDDHH"),
                new MalformedLine(12, "expected 24 comma-separated columns, got 6"),
            ],
            reader.Statistics.FirstMalformed);
    }

    [Fact]
    public void TryRead_StrictMode_ThrowsWithLineNumber()
    {
        var spec = AvazuSpec();
        using var reader = ExampleReaders.Open(Utf8(Header + "\n" + Row("1", "14102100") + "\n\n" + Row("1", "14102100") + ",x\n"), LogFormat.Avazu, spec, new ReaderOptions { Strict = true });
        var row = new RawRow(spec.Fields.Length);
        Assert.True(reader.TryRead(row));
        var e = Assert.Throws<MalformedLineException>(() => reader.TryRead(row));
        Assert.Equal(4, e.LineNumber);
        Assert.Equal("expected 24 comma-separated columns, got 25", e.Reason);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n")]
    [InlineData("id,hour,C1\n")]
    [InlineData("id,click,C1\n")]
    [InlineData("id,click,hour,click\n")]
    public void Open_BadOrMissingHeader_ThrowsInvalidData(string text)
    {
        Assert.Throws<InvalidDataException>(() => ExampleReaders.Open(Utf8(text), LogFormat.Avazu, AvazuSpec(), ReaderOptions.Default));
    }

    [Fact]
    public void TryParseHour_EveryHourOf2014_MatchesDateTime()
    {
        // Cross-check of the hand-rolled YYMMDDHH parse against DateTime for all 8760 hours of 2014.
        var start = new DateTime(2014, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        for (var h = 0; h < 365 * 24; h++)
        {
            var time = start.AddHours(h);
            var text = System.Text.Encoding.ASCII.GetBytes(time.ToString("yyMMddHH"));
            Assert.True(AvazuReader.TryParseHour(text, out var ms, out var weekday));
            Assert.Equal(new DateTimeOffset(time).ToUnixTimeMilliseconds(), ms);
            Assert.Equal((int)time.DayOfWeek, weekday);
        }
    }
}
