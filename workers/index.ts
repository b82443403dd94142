/** Worker entry point. */
import { createCityApp } from "./app.js";

export default createCityApp();
