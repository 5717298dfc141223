using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Learning.Hashing;

using AdCtr.Learning.Tests.Support;

namespace AdCtr.Learning.Tests.Features;

public class FeatureEncoderTests
{
    private const string SpecJson = """
        {
          "name": "t", "hashSeed": 7, "bits": 18, "campaignField": "campaignId",
          "fields": [
            { "name": "campaignId" },
            { "name": "age", "models": "both" },
            { "name": "cat" },
            { "name": "clicks", "kind": "count" },
            { "name": "price", "kind": "numeric", "transform": "log1p", "models": "campaign" }
          ],
          "crosses": [ { "fields": ["age", "cat"] }, { "fields": ["age", "cat", "campaignId"], "models": "campaign" } ]
        }
        """;

    private static uint H(string token) => MurmurHash3.Hash32(Encoding.UTF8.GetBytes(token), 7);

    private static int Idx(uint h) => (int)(h & ((1u << 18) - 1));

    private static RawRow Row(FeatureSpec spec, params (string Field, string Value)[] values)
    {
        var row = new RawRow(spec.Fields.Length);
        foreach (var (field, value) in values)
        {
            row.Set(spec.IndexOf(field), value.AsSpan());
        }

        return row;
    }

    [Fact]
    public void Encode_AllFieldsPresent_HashesFieldEqualsValueIntoSlots()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var x = new EncodedExample();
        encoder.Encode(Row(spec, ("campaignId", "c1"), ("age", "25-34"), ("cat", "shoes"), ("clicks", "100"), ("price", "9")), x);

        var bias = Idx(H("__bias__"));
        var hAge = H("age=25-34");
        var hCat = H("cat=shoes");
        var hCampaign = H("campaignId=c1");
        var cross = MurmurHash3.Hash32(hAge, hCat, 7);
        var cross3 = MurmurHash3.Hash32(cross, hCampaign, 7);

        // Global: bias, campaignId, age, cat, clicks (bucket floor(ln(100)^2) = 21), cross age x cat.
        Assert.Equal(new[] { bias, Idx(hCampaign), Idx(hAge), Idx(hCat), Idx(H("clicks=#21")), Idx(cross) }, x.Global.Indices.ToArray());
        Assert.All(x.Global.Values.ToArray(), v => Assert.Equal(1f, v));

        // Campaign: age, price (one coordinate "price=" with value ln(10)), the 3-way cross, the campaign bias.
        Assert.Equal(new[] { Idx(hAge), Idx(H("price=")), Idx(cross3), bias }, x.Campaign.Indices.ToArray());
        Assert.Equal((float)Math.Log(10), x.Campaign.Values[1], 6);
        Assert.True(x.HasCampaign);
        Assert.Equal(FeatureEncoder.CampaignKeyOf("c1"u8), x.CampaignKey);
    }

    [Fact]
    public void Encode_MissingField_SkipsItAndEveryCrossNamingIt()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var x = new EncodedExample();
        encoder.Encode(Row(spec, ("age", "25-34")), x);

        Assert.Equal(new[] { Idx(H("__bias__")), Idx(H("age=25-34")) }, x.Global.Indices.ToArray());
        Assert.Equal(new[] { Idx(H("age=25-34")) }, x.Campaign.Indices.ToArray());
        Assert.False(x.HasCampaign);
    }

    [Theory]
    [InlineData(-1L, -1L)]
    [InlineData(0L, 0L)]
    [InlineData(2L, 2L)]
    [InlineData(3L, 1L)] // ln(3)^2 = 1.207
    [InlineData(10L, 5L)] // ln(10)^2 = 5.30
    [InlineData(1000L, 47L)] // ln(1000)^2 = 47.7
    public void CountBucket_Value_FollowsLogSquaredRule(long x, long expected)
    {
        Assert.Equal(expected, FeatureEncoder.CountBucket(x));
    }

    [Fact]
    public void Encode_CountThatIsNotAnInteger_IsHashedAsCategorical()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var x = new EncodedExample();
        new FeatureEncoder(spec).Encode(Row(spec, ("clicks", "n/a")), x);
        Assert.Equal(Idx(H("clicks=n/a")), x.Global.Indices[1]);
    }

    [Fact]
    public void Encode_ManyRowsAfterWarmUp_AllocatesNothing()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var row = Row(spec, ("campaignId", "c1"), ("age", "25-34"), ("cat", "shoes"), ("clicks", "100"), ("price", "9"));
        var x = new EncodedExample();
        encoder.Encode(row, x);
        var allocated = Allocations.Fewest(3, () =>
        {
            for (var i = 0; i < 1000; i++)
            {
                encoder.Encode(row, x);
            }
        });

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Describe_Row_NamesEveryEncodedFeature()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var row = Row(spec, ("campaignId", "c1"), ("age", "25-34"), ("cat", "shoes"));
        var x = new EncodedExample();
        encoder.Encode(row, x);
        var named = encoder.Describe(row);

        var global = named.Where(f => f.Part == ModelPart.Global).Select(f => f.Index).ToArray();
        var campaign = named.Where(f => f.Part == ModelPart.Campaign).Select(f => f.Index).ToArray();
        Assert.Equal(x.Global.Indices.ToArray(), global);
        Assert.Equal(x.Campaign.Indices.ToArray(), campaign);
        Assert.Contains(named, f => f.Name == "age=25-34 x cat=shoes");
    }

    [Theory]
    [InlineData("""{"bits": 12, "fields": [{"name": "a"}]}""", "bits must be in 18..28")]
    [InlineData("""{"fields": []}""", "no fields")]
    [InlineData("""{"fields": [{"name": "a"}, {"name": "a"}]}""", "declared twice")]
    [InlineData("""{"fields": [{"name": "a"}], "crosses": [{"fields": ["a", "b"]}]}""", "unknown field 'b'")]
    [InlineData("""{"fields": [{"name": "a"}], "crosses": [{"fields": ["a"]}]}""", "two or three fields")]
    [InlineData("""{"fields": [{"name": "a"}], "campaignField": "z"}""", "campaignField 'z'")]
    [InlineData("""{"fields": [{"name": "a", "kind": "weird"}]}""", "invalid feature spec JSON")]
    [InlineData("""{"fields": [{"name": "a"}], "colour": 1}""", "invalid feature spec JSON")]
    public void Parse_InvalidSpec_ThrowsNamingTheProblem(string json, string expected)
    {
        var e = Assert.Throws<FeatureSpecException>(() => FeatureSpec.Parse(json));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fingerprint_SpecsThatMapDifferently_Differ()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        Assert.Equal(spec.Fingerprint(), FeatureSpec.Parse(SpecJson).Fingerprint());
        Assert.NotEqual(spec.Fingerprint(), spec.WithoutCrosses().Fingerprint());
        Assert.NotEqual(spec.Fingerprint(), spec.WithBits(20).Fingerprint());
    }

    [Theory]
    [InlineData("features.criteo.json", 39)]
    [InlineData("features.avazu.json", 22)]
    [InlineData("features.sim.json", 13)]
    public void Load_ShippedSpec_IsValid(string file, int fields)
    {
        var spec = FeatureSpec.Load(Path.Combine(RepoPaths.Config, file));
        Assert.Equal(fields, spec.Fields.Length);
    }
}
