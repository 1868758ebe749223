// Renders /openapi.json as a readable page: operations by tag, their parameters, bodies, responses and schemas.
// Everything is built with DOM calls and textContent: nothing from the document is parsed as HTML.
"use strict";

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return node;
}

function anchor(method, path) {
  return "op-" + method + "-" + path.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function resolve(spec, schema) {
  // Follows a local $ref ("#/components/schemas/Report") once; returns [schema, name].
  if (schema && typeof schema.$ref === "string" && schema.$ref.startsWith("#/")) {
    let target = spec;
    for (const part of schema.$ref.slice(2).split("/")) {
      target = target ? target[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
    }
    return [target || {}, schema.$ref.split("/").pop()];
  }
  return [schema || {}, null];
}

function typeLabel(spec, schema) {
  const [resolved, name] = resolve(spec, schema);
  if (name) return name;
  if (resolved.anyOf || resolved.oneOf) {
    return (resolved.anyOf || resolved.oneOf).map((s) => typeLabel(spec, s)).join(" | ");
  }
  if (resolved.enum) return resolved.enum.map((v) => JSON.stringify(v)).join(" | ");
  if ("const" in resolved) return JSON.stringify(resolved.const);
  if (resolved.type === "array") {
    if (resolved.prefixItems) return "[" + resolved.prefixItems.map((s) => typeLabel(spec, s)).join(", ") + "]";
    return typeLabel(spec, resolved.items || {}) + "[]";
  }
  let label = Array.isArray(resolved.type) ? resolved.type.join(" | ") : resolved.type || "any";
  if (resolved.format) label += " (" + resolved.format + ")";
  if (resolved.contentMediaType) label += " (" + resolved.contentMediaType + ")";
  return label;
}

function constraints(schema) {
  const parts = [];
  if (schema.minimum !== undefined) parts.push("≥ " + schema.minimum);
  if (Number.isSafeInteger(schema.maximum)) parts.push("≤ " + schema.maximum);
  if (schema.maxLength !== undefined) parts.push("≤ " + schema.maxLength + " car.");
  if (schema.default !== undefined) parts.push("défaut " + JSON.stringify(schema.default));
  return parts.join(", ");
}

function objectOf(spec, schema, depth) {
  // The object schema a field leads to (through $ref, nullable anyOf and arrays), to show its fields.
  const [resolved] = resolve(spec, schema);
  if (resolved.properties) return resolved;
  for (const option of resolved.anyOf || resolved.oneOf || []) {
    const found = objectOf(spec, option, depth);
    if (found) return found;
  }
  if (resolved.type === "array" && resolved.items) return objectOf(spec, resolved.items, depth);
  return null;
}

function schemaView(spec, schema, depth, seen) {
  const [resolved, name] = resolve(spec, schema);
  const box = el("div", { class: "schema" });
  if (resolved.description && depth === 0) box.append(el("p", { class: "desc" }, resolved.description));
  if (!resolved.properties) {
    box.append(el("span", { class: "type" }, typeLabel(spec, schema)));
    const limits = constraints(resolved);
    if (limits) box.append(" ", el("span", { class: "desc" }, limits));
    return box;
  }
  const required = new Set(resolved.required || []);
  for (const [field, property] of Object.entries(resolved.properties)) {
    const [target] = resolve(spec, property);
    const line = el(
      "div",
      { class: "prop" },
      el("span", { class: "name" }, field),
      " ",
      el("span", { class: "type" }, typeLabel(spec, property)),
      required.has(field) ? el("span", { class: "req" }, " requis") : null,
      property.description || target.description ? " — " : null,
      property.description || target.description
        ? el("span", { class: "desc" }, property.description || target.description)
        : null,
    );
    const limits = constraints(property);
    if (limits) line.append(" ", el("span", { class: "desc" }, "(" + limits + ")"));
    box.append(line);
    const inner = objectOf(spec, property, depth + 1);
    const innerName = resolve(spec, property)[1] || JSON.stringify(inner);
    if (inner && depth < 6 && !seen.has(innerName)) {
      const more = el("details", {}, el("summary", {}, "champs de " + field));
      more.append(schemaView(spec, inner, depth + 1, new Set([...seen, innerName])));
      box.append(more);
    }
  }
  if (name) box.setAttribute("data-schema", name);
  return box;
}

function parametersView(parameters) {
  const table = el("table", {}, el("tr", {}, el("th", {}, "Nom"), el("th", {}, "Où"), el("th", {}, "Type"),
    el("th", {}, "Description")));
  for (const parameter of parameters) {
    const schema = parameter.schema || {};
    const type = Array.isArray(schema.enum) ? schema.enum.join(" | ") : (schema.type || "string") +
      (schema.format ? " (" + schema.format + ")" : "");
    const limits = constraints(schema);
    table.append(el(
      "tr",
      {},
      el("td", {}, el("code", {}, parameter.name), parameter.required ? el("span", { class: "req" }, " requis") : null),
      el("td", {}, parameter.in),
      el("td", {}, el("code", {}, type)),
      el("td", {}, parameter.description || "", limits ? " (" + limits + ")" : "",
        parameter.deprecated ? el("span", { class: "badge deprecated" }, " obsolète") : null),
    ));
  }
  return table;
}

function contentView(spec, content) {
  const box = el("div", {});
  for (const [media, entry] of Object.entries(content || {})) {
    box.append(el("div", { class: "media" }, media));
    if (entry.schema) box.append(schemaView(spec, entry.schema, 0, new Set()));
  }
  return box;
}

function securityView(spec, security) {
  if (!security || security.length === 0) return el("p", {}, "Public.");
  const names = security.map((requirement) => Object.keys(requirement)[0] || "(aucune)");
  const schemes = (spec.components && spec.components.securitySchemes) || {};
  const list = el("ul", {});
  for (const name of names) {
    const scheme = schemes[name];
    list.append(el("li", {}, el("code", {}, name), scheme && scheme.description ? " — " + scheme.description : ""));
  }
  return el("div", {}, el("p", {}, "Une de ces autorisations :"), list);
}

function operationView(spec, path, method, operation) {
  const body = el("div", { class: "body" });
  if (operation.description) body.append(el("p", {}, operation.description));
  body.append(el("h4", {}, "Autorisation"), securityView(spec, operation.security));
  if (operation.parameters && operation.parameters.length) {
    body.append(el("h4", {}, "Paramètres"), parametersView(operation.parameters));
  }
  if (operation.requestBody) {
    body.append(el("h4", {}, "Corps de la requête"));
    if (operation.requestBody.description) body.append(el("p", {}, operation.requestBody.description));
    body.append(contentView(spec, operation.requestBody.content));
  }
  body.append(el("h4", {}, "Réponses"));
  const responses = el("table", {}, el("tr", {}, el("th", {}, "Statut"), el("th", {}, "Description et corps")));
  for (const [status, response] of Object.entries(operation.responses || {})) {
    const kind = status.startsWith("2") ? "ok" : status.startsWith("4") || status.startsWith("5") ? "err" : "other";
    const cell = el("td", {}, response.description || "");
    if (response.headers) cell.append(el("div", { class: "media" }, "en-têtes : " + Object.keys(response.headers).join(", ")));
    if (response.content) cell.append(contentView(spec, response.content));
    responses.append(el("tr", {}, el("td", {}, el("span", { class: "status " + kind }, status)), cell));
  }
  body.append(responses);
  return el(
    "article",
    { class: "op", id: anchor(method, path) },
    el("header", {}, el("span", { class: "method " + method }, method), el("h3", { class: "path" }, path),
      el("span", { class: "summary" }, operation.summary || ""),
      operation.deprecated ? el("span", { class: "badge deprecated" }, "obsolète") : null),
    body,
  );
}

function render(spec) {
  document.title = (spec.info && spec.info.title ? spec.info.title : "API") + " — documentation";
  document.getElementById("title").textContent = spec.info.title + " " + spec.info.version;
  const summary = document.getElementById("summary");
  summary.textContent = (spec.info.description || "") + " ";
  summary.append(el("a", { href: "/openapi.json" }, "OpenAPI " + spec.openapi + " (JSON)"));

  const byTag = new Map((spec.tags || []).map((tag) => [tag.name, { tag, operations: [] }]));
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const name = (operation.tags && operation.tags[0]) || "Autres";
      if (!byTag.has(name)) byTag.set(name, { tag: { name }, operations: [] });
      byTag.get(name).operations.push([path, method, operation]);
    }
  }
  const toc = document.getElementById("toc");
  const main = document.getElementById("operations");
  main.replaceChildren();
  for (const { tag, operations } of byTag.values()) {
    if (!operations.length) continue;
    const list = el("ul", {});
    const section = el("section", { class: "tag" }, el("h2", {}, tag.name), tag.description ? el("p", {}, tag.description) : null);
    for (const [path, method, operation] of operations) {
      list.append(el("li", {}, el("a", { href: "#" + anchor(method, path) }, el("span", { class: "method " + method }, method),
        el("span", { class: "path" }, path))));
      section.append(operationView(spec, path, method, operation));
    }
    toc.append(el("h2", {}, tag.name), list);
    main.append(section);
  }
  if (location.hash) {
    const target = document.getElementById(location.hash.slice(1));
    if (target) target.scrollIntoView();
  }
}

fetch("/openapi.json", { headers: { Accept: "application/json" } })
  .then((response) => {
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  })
  .then(render)
  .catch((error) => {
    const summary = document.getElementById("summary");
    summary.replaceChildren(el("span", { class: "error" }, "Impossible de lire /openapi.json : " + error.message));
  });
