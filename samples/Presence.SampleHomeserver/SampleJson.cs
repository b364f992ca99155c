using System.Text.Json;
using System.Text.Json.Serialization;

namespace Presence.Sample;

internal sealed class ListChangeDto
{
    [JsonPropertyName("invite")]
    public List<string>? Invite { get; set; }

    [JsonPropertyName("drop")]
    public List<string>? Drop { get; set; }
}

internal sealed class RequestsDto
{
    [JsonPropertyName("requests")]
    public List<ListEntryDto> Requests { get; set; } = [];
}

internal sealed class ListEntryDto
{
    [JsonPropertyName("observer_user")]
    public string? ObserverUser { get; set; }

    [JsonPropertyName("observed_user")]
    public string? ObservedUser { get; set; }

    [JsonPropertyName("state")]
    public string? State { get; set; }

    [JsonPropertyName("presence")]
    public JsonElement? Presence { get; set; }
}

internal sealed class AnswerDto
{
    [JsonPropertyName("allow")]
    public bool? Allow { get; set; }
}

internal sealed class PollingDto
{
    [JsonPropertyName("polling")]
    public bool? Polling { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 16)]
[JsonSerializable(typeof(ListChangeDto))]
[JsonSerializable(typeof(RequestsDto))]
[JsonSerializable(typeof(List<ListEntryDto>))]
[JsonSerializable(typeof(AnswerDto))]
[JsonSerializable(typeof(PollingDto))]
internal sealed partial class SampleJsonContext : JsonSerializerContext
{
}
