using AdCtr.Learning.Features;
using AdCtr.Learning.Models;
using AdCtr.Server.Model;

namespace AdCtr.Server.Api;

/// <summary><c>POST /v1/explain</c>: the top contributing features of one prediction.</summary>
internal static class ExplainApi
{
    private const int Top = 20;

    internal static async Task<IResult> ExplainAsync(HttpContext context, CtrEngine engine)
    {
        using var body = await RequestBody.ReadAsync(context.Request, engine.Limits.MaxBodyBytes, context.RequestAborted).ConfigureAwait(false);
        if (body.Error is not null)
        {
            return body.Error;
        }

        var scratch = engine.RentScratch();
        try
        {
            var request = scratch.Request;
            if (!scratch.Parser.TryParse(body.Span, request, out var error))
            {
                return Problems.BadRequest("invalid explain request", error);
            }

            if (request.CandidateCount != 1)
            {
                return Problems.BadRequest("invalid explain request", "explain takes exactly one candidate, got " + request.CandidateCount);
            }

            request.FillRow(0, scratch.Row, engine.CampaignField, engine.AdField, engine.AdvertiserField);
            scratch.Encoder.Encode(scratch.Row, scratch.Encoded);
            var named = scratch.Encoder.Describe(scratch.Row);
            // In a cluster the campaign may have learned on another silo only (this one does not know its id): its grain answers.
            var campaignId = !scratch.Encoded.HasCampaign ? null
                : engine.KnownCampaignId(scratch.Encoded.CampaignKey)
                    ?? (engine.Replicas is not null ? System.Text.Encoding.UTF8.GetString(request.Value(request.Candidates[0].CampaignId)) : null);
            float[]? campaignWeights = null;
            if (campaignId is not null)
            {
                try
                {
                    campaignWeights = await engine.CampaignWeightsAsync(campaignId, named).ConfigureAwait(false);
                }
                catch (Exception e) when (GrainFailures.IsUnavailable(e))
                {
                    // The campaign's grain (on this silo or another) cannot be reached: 503 with Retry-After, as predict.
                    return GrainFailures.Problem(e);
                }
            }

            var global = new List<FeatureContribution>();
            var campaign = new List<FeatureContribution>();
            double logit = 0;
            var c = 0;
            foreach (var f in named)
            {
                if (f.Part == ModelPart.Global)
                {
                    var w = engine.Global.WeightOf(f.Index);
                    global.Add(new FeatureContribution(f.Name, f.Value, w, w * f.Value));
                    logit += w * f.Value;
                }
                else if (campaignWeights is not null)
                {
                    var w = campaignWeights[c];
                    campaign.Add(new FeatureContribution(f.Name, f.Value, w, w * f.Value));
                    logit += w * f.Value;
                }

                if (f.Part == ModelPart.Campaign)
                {
                    c++;
                }
            }

            var raw = Glmix.Sigmoid(logit);
            return TypedResults.Ok(new ExplainResponse(
                request.RequestId.IsMissing ? null : System.Text.Encoding.UTF8.GetString(request.Value(request.RequestId)),
                engine.Calibrate(raw),
                raw,
                logit,
                campaignId is not null,
                TopOf(global),
                TopOf(campaign)));
        }
        finally
        {
            engine.ReturnScratch(scratch);
        }
    }

    private static List<FeatureContribution> TopOf(List<FeatureContribution> list)
    {
        list.Sort(static (a, b) => Math.Abs(b.Contribution).CompareTo(Math.Abs(a.Contribution)));
        return list.Count > Top ? list.GetRange(0, Top) : list;
    }
}

public sealed record FeatureContribution(string Name, float Value, double Weight, double Contribution);

public sealed record ExplainResponse(string? RequestId, double Ctr, double RawCtr, double Logit, bool CampaignModel, List<FeatureContribution> Global, List<FeatureContribution> Campaign);
