/** Devices → new model: devices discovered through GET /devices/, and a form that creates a model
 * for one attribute with the API's defaults filled in; a 422 shows next to the field it names. */
import { ValidationError } from "../api";
import type { App, Model } from "../app";
import { el, errorPanel, replace, section } from "../ui";

interface Devices {
  service: string;
  servicepath: string;
  total: number;
  devices: Array<{ entity_type: string; entities: Array<{ entity_name: string; device_id: string; attributes: Array<{ name: string; type: string }> }> }>;
}

/** The fields the form offers, with the API's defaults when /openapi.json gives none. */
const FIELDS: Array<{ name: string; label: string; type: "number" | "text" | "select"; fallback: string; options?: string[] }> = [
  { name: "name", label: "Name", type: "text", fallback: "" },
  { name: "model_type", label: "Network", type: "select", fallback: "lstm", options: ["lstm", "gru"] },
  { name: "units", label: "Units (one recurrent layer)", type: "number", fallback: "32" },
  { name: "lookback_window", label: "Lookback window (grid steps)", type: "number", fallback: "24" },
  { name: "forecast_horizon", label: "Forecast horizon (steps)", type: "number", fallback: "1" },
  { name: "epochs", label: "Epochs", type: "number", fallback: "100" },
  { name: "batch_size", label: "Batch size", type: "number", fallback: "32" },
  { name: "learning_rate", label: "Learning rate", type: "number", fallback: "0.001" },
  { name: "sampling_interval", label: "Sampling interval (ISO 8601, empty: detected)", type: "text", fallback: "" },
];

async function apiDefaults(app: App): Promise<Record<string, string>> {
  try {
    const spec = await app.api.get<{ components?: { schemas?: Record<string, { properties?: Record<string, { default?: unknown }> }> } }>("/openapi.json");
    const schema = spec.components?.schemas?.ModelDraft ?? spec.components?.schemas?.ModelCreate;
    const out: Record<string, string> = {};
    for (const [key, prop] of Object.entries(schema?.properties ?? {})) {
      if (prop.default !== undefined && prop.default !== null && typeof prop.default !== "object") out[key] = String(prop.default);
    }
    return out;
  } catch {
    return {};
  }
}

export function devicesPage(app: App, query: URLSearchParams): HTMLElement {
  const tenants = app.auth.identity()?.tenants.filter((t) => t !== "*") ?? [];
  const service = el("input", { name: "service", id: "service", value: query.get("service") ?? tenants[0] ?? "energy", required: true });
  const servicepath = el("input", { name: "servicepath", id: "servicepath", value: query.get("servicepath") ?? "/" });
  const results = el("div", { class: "devices" });
  const formSlot = el("div", { class: "form-slot" });
  const discover = () => {
    replace(formSlot);
    replace(
      results,
      section(null, async (body) => {
        const found = await app.api.get<Devices>("/devices/", { query: { service: service.value, servicepath: servicepath.value } });
        if (!found.total) {
          replace(body, el("p", {}, `No device in service ${found.service}, path ${found.servicepath}.`));
          return;
        }
        replace(
          body,
          ...found.devices.map((group) =>
            el(
              "div",
              { class: "entity-type" },
              el("h3", {}, group.entity_type),
              el(
                "ul",
                {},
                ...group.entities.map((entity) =>
                  el(
                    "li",
                    { "data-entity": entity.entity_name },
                    el("code", {}, entity.entity_name),
                    ` (device ${entity.device_id}) `,
                    ...entity.attributes.map((attribute) =>
                      el(
                        "button",
                        {
                          class: "new-model",
                          "data-attribute": attribute.name,
                          onclick: () => void showForm(app, formSlot, { ...found, entity_type: group.entity_type, entity_id: entity.entity_name, feature: attribute.name }),
                        },
                        `New model for ${attribute.name}`,
                      ),
                    ),
                  ),
                ),
              ),
            ),
          ),
        );
      }),
    );
  };
  const form = el(
    "form",
    { class: "inline", onsubmit: (e: Event) => (e.preventDefault(), discover()) },
    el("label", {}, "FIWARE service ", service),
    el("label", {}, "Service path ", servicepath),
    el("button", { type: "submit", id: "discover" }, "Discover"),
  );
  return el("div", { class: "page", "data-page": "devices" }, el("h1", {}, "Devices"), form, results, formSlot);
}

async function showForm(
  app: App,
  slot: HTMLElement,
  target: { service: string; servicepath: string; entity_type: string; entity_id: string; feature: string },
): Promise<void> {
  const defaults = await apiDefaults(app);
  const inputs: Record<string, HTMLInputElement | HTMLSelectElement> = {};
  const errors: Record<string, HTMLElement> = {};
  const rows = FIELDS.map((field) => {
    const value = field.name === "name" ? "" : (defaults[field.name] ?? field.fallback);
    const input =
      field.type === "select"
        ? el("select", { name: field.name, id: `f-${field.name}` }, ...(field.options ?? []).map((o) => el("option", { value: o, selected: o === value }, o.toUpperCase())))
        : el("input", { name: field.name, id: `f-${field.name}`, inputmode: field.type === "number" ? "decimal" : null, value, placeholder: field.name === "name" ? `default: "<TYPE> - ${target.feature}"` : null });
    inputs[field.name] = input;
    errors[field.name] = el("span", { class: "field-error", id: `error-${field.name}`, role: "alert" });
    return el("div", { class: "field" }, el("label", { for: `f-${field.name}` }, field.label), input, errors[field.name]);
  });
  const formError = el("div", { class: "form-error" });
  const submit = el("button", { type: "submit", id: "create-model" }, "Create model");
  const form = el(
    "form",
    { class: "model-form", novalidate: true },
    el("h2", {}, `New model: ${target.entity_id} · ${target.feature}`),
    el("p", { class: "muted" }, `${target.entity_type} in service ${target.service}, path ${target.servicepath}. Defaults are the API's.`),
    ...rows,
    formError,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const e of Object.values(errors)) e.textContent = "";
    replace(formError);
    const number = (name: string) => {
      const raw = inputs[name].value.trim();
      return raw === "" ? undefined : Number.isNaN(Number(raw)) ? raw : Number(raw);
    };
    const body: Record<string, unknown> = {
      model_type: inputs.model_type.value,
      rnn_layers: [{ units: number("units") }],
      lookback_window: number("lookback_window"),
      forecast_horizon: number("forecast_horizon"),
      epochs: number("epochs"),
      batch_size: number("batch_size"),
      learning_rate: number("learning_rate"),
      feature: target.feature,
      entity_type: target.entity_type,
      entity_id: target.entity_id,
      fiware_service: target.service,
      fiware_servicepath: target.servicepath,
    };
    if (inputs.name.value.trim()) body.name = inputs.name.value.trim();
    if (inputs.sampling_interval.value.trim()) body.sampling_interval = inputs.sampling_interval.value.trim();
    for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
    submit.disabled = true;
    try {
      const model = await app.api.post<Model>("/models/", body);
      app.router.go(`models/${model.id}`);
    } catch (error) {
      if (error instanceof ValidationError) {
        const unplaced: string[] = [];
        for (const [field, message] of Object.entries(error.fieldErrors)) {
          const name = field.startsWith("rnn_layers") ? "units" : field;
          if (errors[name]) {
            errors[name].textContent = message;
            inputs[name].setAttribute("aria-invalid", "true");
          } else unplaced.push(`${field}: ${message}`);
        }
        if (unplaced.length) replace(formError, el("div", { class: "error" }, unplaced.join("; ")));
      } else replace(formError, errorPanel(error));
    } finally {
      submit.disabled = false;
    }
  });
  replace(slot, form);
}
