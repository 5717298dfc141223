var app = WebApplication.CreateSlimBuilder(args).Build();
app.MapPost("/echo", async (HttpRequest request, HttpResponse response) =>
{
    response.ContentType = "application/json";
    await request.Body.CopyToAsync(response.Body, request.HttpContext.RequestAborted);
});
app.Run();
